"""Opt-in: an older MLflow (another interpreter, e.g. a venv with mlflow-skinny 2.22 or 1.30) reads our
exports the same as MLflow 3.17 does. Set SQLTRACK_TEST_OLD_MLFLOW_PYTHON to that interpreter."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import sqltrack
from sqltrack.store import open_store

from ._compare import by_id, client_dump
from .conftest import TOOL, mlflow_dump

OLD_PYTHON = os.environ.get("SQLTRACK_TEST_OLD_MLFLOW_PYTHON")


@pytest.mark.skipif(not OLD_PYTHON, reason="set SQLTRACK_TEST_OLD_MLFLOW_PYTHON to an interpreter with an "
                                           "older MLflow to compare how it reads our exports")
def test_older_mlflow_reads_our_export_the_same(mlflow_tree, tmp_path):
    store = open_store(tmp_path / "s.db")
    sqltrack.import_mlruns(mlflow_tree[0], store)
    out = tmp_path / "exported"
    sqltrack.export_mlruns(out, store)
    store.close()
    old = tmp_path / "old.json"
    subprocess.run([OLD_PYTHON, str(TOOL), "dump", out.as_uri(), str(old)], check=True, capture_output=True,
                   env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"})
    assert by_id(json.loads(old.read_text())) == by_id(mlflow_dump(out.as_uri(), tmp_path))


@pytest.mark.skipif(not OLD_PYTHON, reason="set SQLTRACK_TEST_OLD_MLFLOW_PYTHON to an interpreter with an "
                                           "older MLflow to import a tree it writes")
def test_tree_written_by_older_mlflow_imports_as_it_reports(tmp_path):
    tree, dump = tmp_path / "mlruns", tmp_path / "old.json"
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet"}
    for args in (["write", tree.as_uri()], ["dump", tree.as_uri(), str(dump)]):
        subprocess.run([OLD_PYTHON, str(TOOL), *args], check=True, capture_output=True, cwd=tmp_path, env=env)
    client = sqltrack.Client(tmp_path / "s.db")
    summary = sqltrack.import_mlruns(tree, client)
    assert summary.runs_failed == 0
    assert by_id(client_dump(client)) == by_id(json.loads(dump.read_text()))
    client.close()
