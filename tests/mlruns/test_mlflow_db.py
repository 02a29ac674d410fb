"""import_mlflow_db on a copy of an MLflow-written database: bad rows, --strict, filters."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

import sqltrack
from sqltrack.errors import ImportFailure


@pytest.fixture
def db_copy(mlflow_db, tmp_path) -> str:
    url, _ = mlflow_db
    target = tmp_path / "mlflow.db"
    shutil.copy(url.removeprefix("sqlite:///"), target)
    return str(target)


def _break_one_run(path: str) -> str:
    conn = sqlite3.connect(path)
    (run_id,) = conn.execute("SELECT run_uuid FROM runs WHERE name = 'parent'").fetchone()
    conn.execute("INSERT INTO params (key, value, run_uuid) VALUES ('bad?key', 'v', ?)", (run_id,))
    conn.commit()
    conn.close()
    return run_id


def test_bad_key_skips_the_run_and_strict_stops_first(db_copy, mlflow_db, client):
    run_id = _break_one_run(db_copy)
    with pytest.raises(ImportFailure, match=r"run [0-9a-f]{32}: the param key 'bad\?key'"):
        sqltrack.import_mlflow_db(db_copy, client, strict=True)
    assert client.search_runs(None, max_results=None, run_view_type=3) == []
    summary = sqltrack.import_mlflow_db(db_copy, client)
    assert summary.runs_failed == 1 and summary.runs_imported == len(mlflow_db[1]["runs"]) - 1
    assert run_id in summary.failures[0].message


def test_one_experiment_from_a_database(db_copy, mlflow_db, client):
    (exp,) = [e for e in mlflow_db[1]["experiments"] if e["name"] == "exp-a"]
    summary = sqltrack.import_mlflow_db(f"sqlite:///{db_copy}", client, experiments=["exp-a"])
    wanted = [r for r in mlflow_db[1]["runs"] if r["experiment_id"] == exp["experiment_id"]]
    assert summary.runs_imported == len(wanted) and summary.experiments_imported == 1


def test_not_an_mlflow_database(tmp_path, client):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE x (a)").connection.commit()
    with pytest.raises(ImportFailure, match="not an MLflow tracking database"):
        sqltrack.import_mlflow_db(str(path), client)
