"""A run purged by ``sqltrack gc`` while another client still holds its id: nothing is written for it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sqltrack import Client, Metric, Param, RunTag
from sqltrack.errors import RunNotFound
from sqltrack.store.gc import collect
from sqltrack.store.schema import latest_metrics, metrics, params, runs, tags


def _purge(client: Client, run_id: str) -> Client:
    """Delete and purge ``run_id`` through a second client (another process, in real life)."""
    other = Client(client.store.url, artifact_root=client.store.artifact_root)
    other.delete_run(run_id)
    assert collect(other.store).runs == 1
    return other


def _rows_of(client: Client, rid: int) -> dict[str, int]:
    def count(conn, table):
        return conn.execute(select(func.count()).select_from(table).where(table.c.run_id == rid)).scalar()

    return client.store.read(lambda conn: {t.name: count(conn, t) for t in (params, tags, metrics, latest_metrics)})


def test_a_batch_for_a_purged_run_whose_id_was_reused_is_refused(client):
    """SQLite gives the highest purged id to the next run; a stale cached id must not write into it."""
    eid = client.create_experiment("e")
    client.create_run(eid)
    stale = client.create_run(eid).info.run_id
    old_rid = client.store.cached_run_id(stale)
    other = _purge(client, stale)
    newer = other.create_run(eid).info.run_id
    new_rid = other.store.cached_run_id(newer)
    before = _rows_of(client, new_rid)
    with pytest.raises(RunNotFound, match=stale):
        client.log_batch(stale, metrics=[Metric("loss", 0.5, 1, 0)], params=[Param("lr", "0.1")],
                         tags=[RunTag("note", "x")])
    assert _rows_of(client, new_rid) == before
    assert _rows_of(client, old_rid) == ({name: 0 for name in before} if new_rid != old_rid else before)
    assert other.get_run(newer).data.params == {}
    other.close()


def test_ending_a_purged_run_with_pending_values_is_refused(client):
    eid = client.create_experiment("e")
    run_id = client.create_run(eid).info.run_id
    rid = client.store.cached_run_id(run_id)
    client.log_metric(run_id, "loss", 0.25, step=1)  # pending in the buffer
    other = _purge(client, run_id)
    with pytest.raises(RunNotFound, match="no longer in the store"):
        client.set_terminated(run_id)
    assert _rows_of(client, rid) == {"params": 0, "tags": 0, "metrics": 0, "latest_metrics": 0}
    other.close()


def test_ending_a_purged_run_with_nothing_pending_is_refused(client):
    eid = client.create_experiment("e")
    run_id = client.create_run(eid).info.run_id
    client.create_run(eid)  # the purged id is not the highest: nothing reuses it
    other = _purge(client, run_id)
    with pytest.raises(RunNotFound, match=run_id):
        client.set_terminated(run_id)
    assert other.store.read(lambda c: c.execute(select(func.count()).select_from(runs)).scalar()) == 1
    other.close()


def _stale_and_newer(client) -> tuple[str, str, Client]:
    """A run purged by another client whose integer id SQLite gave to a newer run (this client's cache is stale)."""
    eid = client.create_experiment("e")
    client.create_run(eid)
    stale = client.create_run(eid).info.run_id
    client.set_tag(stale, "keep", "old", synchronous=True)
    other = _purge(client, stale)
    newer = other.create_run(eid, tags={"keep": "new"}).info.run_id
    return stale, newer, other


def test_deleting_a_purged_run_leaves_a_newer_run_alone(client):
    stale, newer, other = _stale_and_newer(client)
    with pytest.raises(RunNotFound, match=stale):
        client.delete_run(stale)
    assert other.get_run(newer).info.lifecycle_stage == "active"
    other.close()


def test_deleting_a_tag_of_a_purged_run_leaves_a_newer_run_alone(client):
    stale, newer, other = _stale_and_newer(client)
    with pytest.raises(RunNotFound, match=stale):
        client.delete_tag(stale, "keep")
    assert other.get_run(newer).data.tags["keep"] == "new"
    other.close()
