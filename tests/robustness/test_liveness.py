"""Runs left RUNNING by a dead process: recognisable as stale, and ended by mark-dead.

Old signs of life are made by creating runs with an old start time (a run's first sign of
life), so no test waits for a clock. The heartbeat test watches a real process.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from click.testing import CliRunner

from sqltrack import Client, Metric
from sqltrack.cli import cli
from sqltrack.errors import InvalidParameter, StoreReadOnly
from sqltrack.store import liveness

from ._scripts import run_cli, start_script

HOUR_MS = 3_600_000


def _now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def runs(client):
    """A quiet run (2 h), a quiet run that just logged, a fresh run, and a finished old run."""
    old = _now_ms() - 2 * HOUR_MS
    quiet = client.create_run("0", start_time=old, run_name="quiet").info.run_id
    revived = client.create_run("0", start_time=old, run_name="revived").info.run_id
    client.log_batch(revived, metrics=[Metric("m", 1.0, _now_ms(), 0)])  # a write is a sign of life
    fresh = client.create_run("0", run_name="fresh").info.run_id
    done = client.create_run("0", start_time=old, run_name="done").info.run_id
    client.set_terminated(done)
    return {"quiet": quiet, "revived": revived, "fresh": fresh, "done": done}


def test_find_stale_runs_uses_the_last_sign_of_life(client, runs):
    stale = liveness.find_stale_runs(client.store, grace_seconds=3600)
    assert [s.run_id for s in stale] == [runs["quiet"]]
    assert stale[0].idle_ms >= 2 * HOUR_MS - 60_000  # by the database's clock
    assert liveness.find_stale_runs(client.store, grace_seconds=3 * 3600) == []


def test_mark_dead_ends_only_stale_runs_at_their_last_sign_of_life(client, runs):
    ended = liveness.mark_dead(client.store, grace_seconds=3600)
    assert [e.run_id for e in ended] == [runs["quiet"]]
    quiet = client.get_run(runs["quiet"]).info
    assert quiet.status == "KILLED" and quiet.end_time == quiet.start_time  # it never showed life after starting
    assert {k: client.get_run(v).info.status for k, v in runs.items()} == {
        "quiet": "KILLED", "revived": "RUNNING", "fresh": "RUNNING", "done": "FINISHED"}
    assert liveness.mark_dead(client.store, grace_seconds=3600) == []  # nothing left to end


def test_mark_dead_options(client, runs):
    assert liveness.mark_dead(client.store, 3600, dry_run=True)[0].run_id == runs["quiet"]
    assert client.get_run(runs["quiet"]).info.status == "RUNNING"  # a dry run changes nothing
    assert liveness.mark_dead(client.store, 3600, run_ids=[runs["fresh"]]) == []
    assert liveness.mark_dead(client.store, 3600, experiment_ids=["0"], status="FAILED")[0].run_id == runs["quiet"]
    assert client.get_run(runs["quiet"]).info.status == "FAILED"
    with pytest.raises(InvalidParameter, match="KILLED or FAILED"):
        liveness.mark_dead(client.store, 3600, status="FINISHED")
    with pytest.raises(InvalidParameter, match="grace"):
        liveness.mark_dead(client.store, -1)


def test_heartbeat_stamps_the_database_clock(client, runs):
    assert liveness.beat(client.store, [runs["quiet"], runs["done"]]) == 1  # RUNNING runs only
    assert liveness.find_stale_runs(client.store, grace_seconds=60) == []
    assert abs(liveness.idle_times(client.store, [runs["quiet"]])[runs["quiet"]]) < 60_000


def _cli(store_path, *args):
    result = CliRunner().invoke(cli, ["--store", str(store_path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.sqlite_only
def test_runs_list_marks_stale_runs(client, runs, store_path):
    table = _cli(store_path, "runs", "list", "--stale-after", "1h")
    line = {name: next(row for row in table.splitlines() if f" {name} " in row) for name in runs}
    assert "RUNNING (stale 2h00m)" in line["quiet"] or "RUNNING (stale 1h59m)" in line["quiet"]
    assert "stale" not in line["fresh"] + line["revived"] + line["done"]
    rows = {r["name"]: r for r in json.loads(_cli(store_path, "runs", "list", "--stale-after", "1h", "--json"))}
    assert {n: (r["status"], r["stale"]) for n, r in rows.items()} == {
        "quiet": ("RUNNING", True), "revived": ("RUNNING", False), "fresh": ("RUNNING", False),
        "done": ("FINISHED", False)}
    assert "stale" not in _cli(store_path, "runs", "list", "--stale-after", "3h")


@pytest.mark.sqlite_only
def test_cli_mark_dead(client, runs, store_path):
    dry = json.loads(_cli(store_path, "runs", "mark-dead", "--grace", "1h", "--dry-run", "--json"))
    assert [r["name"] for r in dry] == ["quiet"]
    out = _cli(store_path, "runs", "mark-dead", "--grace", "90m", "--status", "FAILED")
    assert out.startswith("Marked 1 stale run(s) FAILED.") and "quiet" in out
    assert client.get_run(runs["quiet"]).info.status == "FAILED"
    assert _cli(store_path, "runs", "mark-dead", "--grace", "1h").startswith("Marked 0 stale run(s)")
    bad = CliRunner().invoke(cli, ["--store", str(store_path), "runs", "mark-dead", "--grace", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


@pytest.mark.sqlite_only
def test_mark_dead_on_a_read_only_store_is_a_clear_error(client, runs, store_path):
    reader = Client(store_path, read_only=True)
    try:
        with pytest.raises(StoreReadOnly):
            liveness.mark_dead(reader.store, 3600)
        assert [s.run_id for s in liveness.find_stale_runs(reader.store, 3600)] == [runs["quiet"]]
    finally:
        reader.close()


def test_heartbeat_of_a_live_quiet_process_and_its_end_at_sigkill(store_path):
    """A live process keeps its quiet run fresh; once killed, the stamps stop and mark-dead ends it there."""
    proc = start_script("""
        import time, sqltrack as mlflow
        from sqltrack.store import liveness
        liveness.HEARTBEAT_SECONDS = 0.05
        run = mlflow.start_run()
        print(run.info.run_id, flush=True)
        while True:
            time.sleep(1)  # a long, quiet training step: no values logged
    """, store_path)
    run_id = proc.stdout.readline().strip()
    reader = Client(store_path, read_only=True)
    try:
        stamps = _watch_stamps(reader, run_id, count=3)
        assert len(set(stamps)) == 3  # a quiet process still shows signs of life
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        last = _stamp(reader, run_id)
        time.sleep(0.5)
        assert _stamp(reader, run_id) == last  # a dead process shows none
    finally:
        reader.close()
        if proc.poll() is None:
            proc.kill()
    time.sleep(1.1)
    marked = json.loads(run_cli(store_path, "runs", "mark-dead", "--grace", "1s", "--json").stdout)
    assert [m["run_id"] for m in marked] == [run_id] and marked[0]["last_sign_of_life"] == last
    run = Client(store_path, read_only=True).get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time == last


def _stamp(reader, run_id: str) -> int:
    from sqlalchemy import select

    from sqltrack.store.schema import runs

    return reader.store.read(lambda c: c.execute(select(runs.c.last_activity_time)
                                                 .where(runs.c.run_uuid == run_id)).scalar())


def _watch_stamps(reader, run_id: str, count: int, patience: float = 120) -> list[int]:
    seen, deadline = [_stamp(reader, run_id)], time.monotonic() + patience
    while len(set(seen)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        value = _stamp(reader, run_id)
        if value != seen[-1]:
            seen.append(value)
    return seen


def test_heartbeat_thread_waits_a_period_for_the_next_run_then_ends(client, monkeypatch):
    """Runs started back to back share one heartbeat thread; an idle one ends after a quiet period."""
    monkeypatch.setattr(liveness, "HEARTBEAT_SECONDS", 0.3)
    heart = liveness.Heartbeat()
    first = client.create_run("0").info.run_id
    heart.add(client.store, first)
    thread = heart._thread
    heart.remove(first)
    time.sleep(0.1)  # the thread has seen the run go and is idle
    second = client.create_run("0").info.run_id
    heart.add(client.store, second)
    assert heart._thread is thread and thread.is_alive()
    time.sleep(0.7)  # beats while the run is active: the last sign of life moves on
    deadline = time.monotonic() + 10
    while liveness.idle_times(client.store, [second])[second] >= 350 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert liveness.idle_times(client.store, [second])[second] < 350
    heart.remove(second)
    thread.join(timeout=5)
    assert not thread.is_alive() and heart._thread is None
