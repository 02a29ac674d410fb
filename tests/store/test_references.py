"""References between rows hold without SQLite's per-row foreign-key checks (sqltrack keeps them itself)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sqltrack import Client, Metric, Param, RunTag
from sqltrack.errors import RunNotFound
from sqltrack.mlruns.importer import import_mlruns
from sqltrack.store.gc import collect
from sqltrack.store.schema import artifacts, experiment_tags

SEED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "seed-mlruns"


@pytest.mark.sqlite_only
def test_sqlite_leaves_reference_checks_to_sqltrack(client):
    """SQLite would look up a run and a key name for every metric point inserted."""
    with client.store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0


@pytest.mark.sqlite_only
def test_no_dangling_row_after_logging_purging_and_importing(client, tmp_path):
    kept = client.create_experiment("kept", tags={"a": "1"})
    doomed = client.create_experiment("doomed", tags={"b": "2"})
    note = tmp_path / "note.txt"
    note.write_text("hello", encoding="utf-8")
    run_ids = []
    for eid in (kept, kept, doomed):
        run_id = client.create_run(eid).info.run_id
        client.log_batch(run_id, metrics=[Metric("loss", 0.5, 1, 0), Metric("loss", 0.25, 2, 1)],
                         params=[Param("lr", "0.1")], tags=[RunTag("note", "x")])
        client.log_artifact(run_id, note)
        client.set_terminated(run_id)
        run_ids.append(run_id)
    client.delete_run(run_ids[1])
    client.delete_experiment(doomed)
    report = collect(client.store)
    assert (report.runs, report.experiments) == (2, 1)
    tree = tmp_path / "mlruns"
    shutil.copytree(SEED, tree)
    assert import_mlruns(tree, client).runs_imported > 0
    left = client.store.read(lambda c: c.execute(
        select(func.count()).select_from(experiment_tags).where(experiment_tags.c.experiment_id == int(doomed)))
        .scalar())
    assert left == 0
    db = sqlite3.connect(client.store.engine.url.database)
    try:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_an_artifact_for_a_purged_run_is_refused(client, tmp_path):
    run_id = client.create_run("0").info.run_id
    rid = client.store.cached_run_id(run_id)
    other = Client(client.store.url, artifact_root=client.store.artifact_root)
    other.delete_run(run_id)
    collect(other.store)
    note = tmp_path / "note.txt"
    note.write_text("hello", encoding="utf-8")
    with pytest.raises(RunNotFound, match=run_id):
        client.log_artifact(run_id, note)
    rows = client.store.read(lambda c: c.execute(
        select(func.count()).select_from(artifacts).where(artifacts.c.run_id == rid)).scalar())
    assert rows == 0
    other.close()
