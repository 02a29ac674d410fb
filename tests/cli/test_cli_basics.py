"""The sqltrack command: listings, run details, JSON output, gc, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from sqltrack import Client
from sqltrack.cli import cli


@pytest.fixture
def filled(store_path):
    client = Client(store_path)
    eid = client.create_experiment("sweep")
    ids = []
    started = int(time.time() * 1000)
    for index in range(3):  # a second apart: runs started in one millisecond list in run-id order, as in MLflow
        run = client.create_run(eid, run_name=f"r{index}", start_time=started + 1000 * index)
        client.log_metric(run.info.run_id, "mse", 1.0 / (index + 1))
        client.log_param(run.info.run_id, "pca_var", str(index))
        client.log_text(run.info.run_id, "x" * (index + 1), f"files/f{index}.txt")
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    client.close()
    return store_path, ids


def _run(store, *args):
    return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)


def test_experiments_list(filled):
    result = _run(filled[0], "experiments", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {"name": "sweep", "runs": 3} .items() <= next(r for r in rows if r["name"] == "sweep").items()


def test_runs_list_newest_first_with_metrics(filled):
    store, ids = filled
    result = _run(store, "runs", "list", "--experiment", "sweep", "--json")
    rows = json.loads(result.output)
    assert [r["run_id"] for r in rows] == ids[::-1]
    assert rows[0]["metrics.mse"] == pytest.approx(1 / 3)
    table = _run(store, "runs", "list").output
    assert "metrics.mse" in table and "r2" in table.splitlines()[2]


def test_runs_show(filled):
    store, ids = filled
    result = _run(store, "runs", "show", ids[1], "--json")
    shown = json.loads(result.output)
    assert shown["params"] == {"pca_var": "1"} and shown["artifacts"] == ["files/f1.txt (2 bytes)"]
    assert "pca_var: 1" in _run(store, "runs", "show", ids[1]).output


def test_gc_frees_deleted_runs_and_orphan_blobs(filled):
    store, ids = filled
    client = Client(store)
    client.delete_run(ids[0])
    client.close()
    result = _run(store, "gc", "--blob-grace", "0", "--json")
    report = json.loads(result.output)
    assert report["runs"] == 1 and report["metric_points"] == 1 and report["blobs"] == 1
    assert "Removed 0 deleted run(s)" in _run(store, "gc").output


def test_errors_are_one_line_with_nonzero_status(filled, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sqltrack", "--store", str(filled[0]), "runs", "show", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: No run with id 'nope'") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "sqltrack", "--store", str(tmp_path / "missing" / "x.db"),
                           "runs", "list"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and proc.stderr.startswith("Error:")


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    for command in ("db", "experiments", "gc", "runs"):
        assert command in result.output
