"""Loading runs on SQLite names their values from a per-connection cache of key names, not a join.

The cache must never name a value wrongly: keys logged after it was filled (by this or
another process), a key whose insert was rolled back and whose id went to another key, and
a damaged store that lost a key's name.
"""

from __future__ import annotations

import sqlite3

import pytest

from sqltrack import Client, Metric, Param, RunTag
from sqltrack.errors import StoreError
from sqltrack.store.reads import load_runs
from sqltrack.store.schema import key_names


def _run(client: Client, params: dict[str, str]) -> str:
    """A new run with ``params``, written through (not left in the client's buffer)."""
    experiment = client.get_experiment_by_name("e")
    eid = experiment.experiment_id if experiment else client.create_experiment("e")
    run_id = client.create_run(eid).info.run_id
    client.log_batch(run_id, params=[Param(key, value) for key, value in params.items()])
    return run_id


def test_keys_another_process_logs_later_are_named(store_path):
    reader, writer = Client(store_path), Client(store_path)
    first = _run(writer, {"lr": "0.1"})
    assert reader.get_run(first).data.params == {"lr": "0.1"}  # the reader's cache now holds 'lr'
    second = _run(writer, {"lr": "0.2", "depth": "3"})
    writer.log_batch(second, metrics=[Metric("loss", 0.5, 0, 0)], tags=[RunTag("team", "a")])
    run = reader.get_run(second)
    assert run.data.params == {"lr": "0.2", "depth": "3"}
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.tags["team"] == "a"
    found = reader.search_runs([run.info.experiment_id], "params.depth = '3'")
    assert [r.info.run_id for r in found] == [second]
    reader.close()
    writer.close()


def test_a_name_seen_in_a_rolled_back_write_is_not_kept(store_path):
    """SQLite gives a rolled-back key's id to the next key: a name read inside that write must not stay cached."""
    client = Client(store_path)
    run_id = _run(client, {"lr": "0.1"})
    rid = client.store.cached_run_id(run_id)
    seen = {}

    def doomed(conn):
        kid = seen["ghost id"] = conn.execute(key_names.insert().values(name="ghost")).inserted_primary_key[0]
        conn.exec_driver_sql("INSERT INTO params (run_id, key_id, value) VALUES (?, ?, 'x')", (rid, kid))
        seen["params"] = load_runs(conn, [rid])[0].data.params
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        client.store.write(doomed)
    assert seen["params"] == {"lr": "0.1", "ghost": "x"}
    client.log_batch(run_id, params=[Param("real", "y")])
    assert client.store.cached_key_id("real") == seen["ghost id"]  # the rolled-back key's id
    assert client.get_run(run_id).data.params == {"lr": "0.1", "real": "y"}
    client.close()


def test_a_value_whose_key_name_is_gone_is_a_clear_error(store_path):
    client = Client(store_path)
    run_id = _run(client, {"lr": "0.1", "depth": "3"})
    db = sqlite3.connect(store_path)
    with db:
        db.execute("DELETE FROM key_names WHERE name = 'depth'")
    db.close()
    fresh = Client(store_path)
    with pytest.raises(StoreError, match="damaged: some run values refer to key id") as raised:
        fresh.get_run(run_id)
    assert str(store_path) in str(raised.value)
    with sqlite3.connect(store_path) as db:  # the read changed nothing
        assert sorted(db.execute("SELECT value FROM params").fetchall()) == [("0.1",), ("3",)]
    fresh.close()
    client.close()
