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


def _newest_purged(client: Client) -> tuple[str, str, int, Client]:
    """(experiment, the newest of two runs, its cached id, the client that purged it): the case where
    SQLite gave the purged id to the next run before migration 0004."""
    eid = client.create_experiment("e")
    client.create_run(eid)
    newest = client.create_run(eid).info.run_id
    old_rid = client.store.cached_run_id(newest)
    return eid, newest, old_rid, _purge(client, newest)


def test_a_batch_for_a_purged_run_whose_id_was_reused_is_refused(client):
    """A stale cached id must not write into a run that took its number (SQLite did so before migration 0004)."""
    eid, stale, old_rid, other = _newest_purged(client)
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
    """A run purged by another client, and a newer run (whose id SQLite gave the purged one's before 0004)."""
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


def test_a_purged_runs_id_is_never_given_to_a_newer_run(client):
    eid, _, purged_rid, other = _newest_purged(client)
    assert other.store.cached_run_id(other.create_run(eid).info.run_id) > purged_rid
    other.close()
    client.close()  # and after reopening the store
    reopened = Client(client.store.url, artifact_root=client.store.artifact_root)
    assert reopened.store.cached_run_id(reopened.create_run(eid).info.run_id) > purged_rid + 1
    reopened.close()


def test_reading_a_purged_run_through_a_stale_id_finds_nothing_of_a_newer_run(client):
    stale, newer, other = _stale_and_newer(client)
    other.log_metric(newer, "loss", 0.5, synchronous=True)
    with pytest.raises(RunNotFound, match=f"{stale} is no longer in the store"):
        client.get_run(stale)
    for key in ("loss", "never-logged"):
        with pytest.raises(RunNotFound, match=f"{stale} is no longer in the store"):
            client.get_metric_history(stale, key)
    assert client.get_run(newer).info.run_id == newer
    assert client.get_metric_history(newer, "never-logged") == []  # a live run without the metric
    other.close()


def test_the_artifacts_of_a_purged_run_read_through_a_stale_id_are_run_not_found(client):
    eid = client.create_experiment("e")
    stale = client.create_run(eid).info.run_id
    client.log_text(stale, "hello", "notes/a.txt")
    assert client.load_text(stale, "notes/a.txt") == "hello"  # the id is now cached
    other = _purge(client, stale)
    with pytest.raises(RunNotFound, match=f"{stale} is no longer in the store"):
        client.list_artifacts(stale)
    with pytest.raises(RunNotFound, match=f"{stale} is no longer in the store"):
        client.load_text(stale, "notes/a.txt")
    other.close()


def test_a_stale_id_now_held_by_another_run_reads_nothing_of_it(client):
    """Where a store's counter went back (MySQL before 8.0 after a restart), the uuid tells the runs apart."""
    eid = client.create_experiment("e")
    stale = client.create_run(eid).info.run_id
    newer = client.create_run(eid).info.run_id
    client.log_metric(newer, "loss", 0.5, synchronous=True)
    client.store.remember_run_id(stale, client.store.cached_run_id(newer))  # as if the id had been reused
    with pytest.raises(RunNotFound, match=stale):
        client.get_run(stale)
    for key in ("loss", "missing"):
        with pytest.raises(RunNotFound, match=stale):
            client.get_metric_history(stale, key)
