"""Importing again: nothing changes, new and grown runs come in, conflicts are left alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sqltrack

from ._compare import store_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from mlruns_gen import append_points, generate_tree, run_id  # noqa: E402


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "mlruns"
    generate_tree(root, 12, experiments=2, params=3, metrics=2, steps=3, tags=1)
    return root


def _run_folder(root: Path, rid: str) -> Path:
    (folder,) = root.glob(f"*/{rid}")
    return folder


def test_second_import_brings_only_new_and_grown_runs(tree, client):
    first = sqltrack.import_mlruns(tree, client)
    assert first.runs_imported == 12 and first.metric_points == 12 * 2 * 3
    grown = run_id(0, 3)
    append_points(tree, grown, "metric_0", [(1_800_000_000_000, 0.5, 10), (1_800_000_000_001, float("nan"), 11)])
    generate_tree(tree, 3, experiments=2, params=3, metrics=2, steps=3, tags=1, first=12)
    second = sqltrack.import_mlruns(tree, client)
    assert (second.runs_imported, second.runs_updated, second.runs_unchanged) == (3, 1, 11)
    assert second.metric_points == 3 * 2 * 3 + 2
    steps = [m.step for m in client.get_metric_history(grown, "metric_0")]
    assert steps == [0, 1, 2, 10, 11]
    assert client.get_run(grown).data.metrics["metric_0"] != client.get_run(grown).data.metrics["metric_0"]  # NaN


def test_changed_status_and_tags_update_the_run(tree, client):
    sqltrack.import_mlruns(tree, client)
    rid = run_id(0, 5)
    folder = _run_folder(tree, rid)
    meta = folder / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 3", "status: 4"))
    (folder / "tags" / "tag_0").unlink()
    (folder / "tags" / "note").write_text("added later")
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.runs_updated == 1 and summary.runs_unchanged == 11
    run = client.get_run(rid)
    assert run.info.status == "FAILED" and run.data.tags["note"] == "added later" and "tag_0" not in run.data.tags


def test_changed_param_is_a_conflict_left_alone(tree, client):
    sqltrack.import_mlruns(tree, client)
    before = store_state(client.store)
    rid = run_id(0, 2)
    (_run_folder(tree, rid) / "params" / "param_0").write_text("changed")
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.runs_skipped == 1 and summary.runs_unchanged == 11
    (conflict,) = summary.conflicts
    assert rid in conflict.message and "param_0" in conflict.message and "--overwrite" in conflict.message
    assert store_state(client.store) == before
    replaced = sqltrack.import_mlruns(tree, client, overwrite=True)
    assert replaced.runs_updated == 1 and client.get_run(rid).data.params["param_0"] == "changed"


def test_points_logged_in_the_store_after_import_are_a_conflict(tree, client):
    sqltrack.import_mlruns(tree, client)
    rid = run_id(0, 1)
    client.log_metric(rid, "metric_0", 9.0, step=99, synchronous=True)
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.runs_skipped == 1 and "point(s) in the store" in summary.conflicts[0].message
    assert 99 in [m.step for m in client.get_metric_history(rid, "metric_0")]


def test_experiment_renamed_in_the_store_is_a_conflict(tree, client):
    sqltrack.import_mlruns(tree, client)
    client.rename_experiment("1", "renamed")
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.experiments_failed == 1 and "renamed" in summary.conflicts[0].message
    assert summary.runs_skipped == 6 and summary.runs_unchanged == 6
    again = sqltrack.import_mlruns(tree, client, overwrite=True)  # never renames an experiment
    assert again.experiments_failed == 1 and client.get_experiment("1").name == "renamed"
    client.rename_experiment("1", "experiment-1")
    assert sqltrack.import_mlruns(tree, client).runs_unchanged == 12


def test_identical_artifacts_are_deduplicated(tree, client):
    for rid in (run_id(0, 0), run_id(0, 1)):
        (_run_folder(tree, rid) / "artifacts" / "same.bin").write_bytes(b"\x00same bytes" * 100)
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.artifact_files == 14 and summary.artifacts_deduplicated == 1
    assert summary.artifact_bytes_deduplicated == 1100


def test_moved_tree_imports_as_unchanged(tree, client, tmp_path):
    sqltrack.import_mlruns(tree, client)
    moved = tmp_path / "moved"
    tree.rename(moved)  # artifact URIs now point at the old place
    summary = sqltrack.import_mlruns(moved, client)
    assert summary.runs_unchanged == 12 and not summary.problems
