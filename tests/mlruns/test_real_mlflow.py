"""Trees and databases written by real MLflow 3.17: what we import equals what MLflow reports,
and what we export reads back in MLflow the same."""

from __future__ import annotations

import copy
import math

import pytest

import sqltrack
from sqltrack import Client
from sqltrack.store import open_store

from ._compare import by_id, client_dump, store_state
from .conftest import mlflow_dump

MODEL_RUN = "with-model"
MAX_FLOAT = 1.7976931348623157e308


def _model_files(runs: dict) -> tuple[dict, list]:
    """Split the 3.x logged model's files (attached under 'model/') off the with-model run."""
    (run,) = [r for r in runs.values() if r["run_name"] == MODEL_RUN]
    attached = [a for a in run["artifacts"] if a[0].startswith("model/")]
    run["artifacts"] = [a for a in run["artifacts"] if not a[0].startswith("model/")]
    return runs, attached


def test_import_equals_what_mlflow_reports(mlflow_tree, client):
    tree, expected = mlflow_tree
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.runs_failed == 0 and summary.runs_imported == len(expected["runs"]), summary.render()
    want_exps, want_runs = by_id(expected)
    got_exps, got_runs = by_id(client_dump(client))
    assert got_exps == want_exps
    got_runs, attached = _model_files(got_runs)
    assert got_runs == want_runs
    assert {"model/MLmodel", "model/model.pkl"} <= {path for path, _ in attached}


def test_the_scenario_covers_what_the_issue_lists(mlflow_tree):
    _, expected = mlflow_tree
    runs = {r["run_name"]: r for r in expected["runs"]}
    assert {"FAILED", "KILLED", "RUNNING", "FINISHED"} <= {r["status"] for r in runs.values()}
    assert runs["doomed-run"]["lifecycle_stage"] == "deleted"
    assert runs["child-failed"]["tags"]["mlflow.parentRunId"] == runs["parent"]["run_id"]
    assert any(e["lifecycle_stage"] == "deleted" for e in expected["experiments"])
    assert "a b.c/d" in runs["parent"]["params"] and "odd/values x" in runs["parent"]["histories"]
    assert ["legacy-model/MLmodel"] == [a[0] for a in runs[MODEL_RUN]["artifacts"] if a[0].endswith("MLmodel")]


def test_export_reads_back_in_mlflow(mlflow_tree, client, tmp_path):
    tree, expected = mlflow_tree
    sqltrack.import_mlruns(tree, client)
    out = tmp_path / "exported"
    summary = sqltrack.export_mlruns(out, client)
    assert summary.runs_failed == 0 and summary.runs_exported == len(expected["runs"])
    want_exps, want_runs = by_id(expected)
    got_exps, got_runs = by_id(mlflow_dump(out.as_uri(), tmp_path))
    got_runs, attached = _model_files(got_runs)
    assert got_runs == want_runs
    assert attached
    assert got_exps == want_exps


def test_import_export_import_is_identical(mlflow_tree, tmp_path):
    first = open_store(tmp_path / "first.db")
    sqltrack.import_mlruns(mlflow_tree[0], first)
    sqltrack.export_mlruns(tmp_path / "out", first)
    second = open_store(tmp_path / "second.db")
    summary = sqltrack.import_mlruns(tmp_path / "out", second)
    assert summary.runs_failed == 0
    assert store_state(second) == store_state(first)
    first.close()
    second.close()


def test_export_is_stable(mlflow_tree, tmp_path):
    """export -> import -> export writes the same files (artifact URIs aside)."""
    first = open_store(tmp_path / "first.db")
    sqltrack.import_mlruns(mlflow_tree[0], first)
    sqltrack.export_mlruns(tmp_path / "a", first)
    second = open_store(tmp_path / "second.db")
    sqltrack.import_mlruns(tmp_path / "a", second)
    sqltrack.export_mlruns(tmp_path / "b", second)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def _files(root) -> dict:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes().replace(str(root).encode(), b"<root>")
            rel = path.relative_to(root).as_posix()
            mtime = path.stat().st_mtime_ns if "/artifacts/" in rel else None  # artifacts keep their times
            found[rel] = (data, mtime)
    return found


def test_mlflow_db_import_equals_what_mlflow_reports(mlflow_db, tmp_path):
    url, expected = mlflow_db
    client = Client(tmp_path / "s.db")
    summary = sqltrack.import_mlflow_db(url, client)
    assert summary.runs_failed == 0 and summary.runs_imported == len(expected["runs"]), summary.render()
    want_exps, want_runs = by_id(_restore_inf(expected))
    got_exps, got_runs = by_id(client_dump(client))
    assert got_exps == want_exps
    assert got_runs == want_runs
    again = sqltrack.import_mlflow_db(url, client)
    assert again.runs_unchanged == len(expected["runs"]) and again.runs_imported == 0
    client.close()


def _restore_inf(dump: dict) -> dict:
    """MLflow's SQL store reports ±inf as ±max-float; sqltrack gives the real infinities back."""
    dump = copy.deepcopy(dump)

    def fix(v):
        return math.copysign(math.inf, v) if isinstance(v, float) and abs(v) == MAX_FLOAT else v

    for run in dump["runs"]:
        run["metrics"] = {k: fix(v) for k, v in run["metrics"].items()}
        run["histories"] = {k: [[t, fix(v), s] for t, v, s in h] for k, h in run["histories"].items()}
    return dump


def test_mlflow_db_keeps_infinities_exact(mlflow_db, tmp_path):
    url, _ = mlflow_db
    client = Client(tmp_path / "s.db")
    sqltrack.import_mlflow_db(url, client)
    (parent,) = [r for r in client.search_runs(None, max_results=None, run_view_type=3)
                 if r.info.run_name == "parent"]
    values = [m.value for m in client.get_metric_history(parent.info.run_id, "odd/values x")]
    assert values[1:] == [float("inf"), float("-inf"), 2.5] and values[0] != values[0]
    client.close()


@pytest.mark.parametrize("wanted", ["exp-a", "to-delete"])
def test_import_one_experiment(mlflow_tree, client, wanted):
    tree, expected = mlflow_tree
    summary = sqltrack.import_mlruns(tree, client, experiments=[wanted])
    (exp,) = [e for e in expected["experiments"] if e["name"] == wanted]
    runs = [r for r in expected["runs"] if r["experiment_id"] == exp["experiment_id"]]
    assert summary.runs_imported == len(runs) and summary.experiments_imported == 1
    assert client.get_experiment(exp["experiment_id"]).lifecycle_stage == exp["lifecycle_stage"]
