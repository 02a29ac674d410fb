"""The import/export commands: thin adapters with a summary (or JSON) and exit status 1 on failures."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sqltrack import Client
from sqltrack.cli import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_import_mlruns_prints_a_summary(seed_root, tmp_path):
    store = str(tmp_path / "s.db")
    result = _run("--store", store, "import", "mlruns", str(seed_root))
    assert result.exit_code == 0, result.output
    assert "5 imported" in result.output and "artifacts:   4 files" in result.output
    again = _run("import", "mlruns", str(seed_root), "--store", store, "--json")
    data = json.loads(again.output)
    assert (data["runs_unchanged"], data["runs_imported"], data["problems"]) == (5, 0, [])


def test_import_dry_run_writes_nothing(seed_root, tmp_path):
    store = tmp_path / "s.db"
    result = _run("--store", str(store), "import", "mlruns", str(seed_root), "--dry-run", "--json")
    assert json.loads(result.output)["runs_imported"] == 5
    client = Client(store)
    assert client.search_runs(["0"], max_results=None) == []
    client.close()


def test_import_experiment_filter(seed_root, tmp_path):
    result = _run("--store", str(tmp_path / "s.db"), "import", "mlruns", str(seed_root), "-e", "mlflow_tutorial",
                  "--json")
    data = json.loads(result.output)
    assert data["runs_imported"] == 4 and data["experiments_imported"] == 1


def test_import_failures_exit_1_and_strict_names_the_file(seed_copy, tmp_path):
    (seed_copy / "1" / "41e1628508fc4a2f83651ceceede6d8a" / "metrics" / "MSE").write_text("bad line\n")
    store = str(tmp_path / "s.db")
    strict = _run("--store", store, "import", "mlruns", str(seed_copy), "--strict")
    assert strict.exit_code == 1 and "metrics/MSE, line 1" in strict.output
    loose = _run("--store", store, "import", "mlruns", str(seed_copy))
    assert loose.exit_code == 1 and "4 imported" in loose.output and "1 failed" in loose.output


def test_export_with_filter_and_experiment(seed_root, tmp_path):
    store = str(tmp_path / "s.db")
    _run("--store", store, "import", "mlruns", str(seed_root))
    out = tmp_path / "out"
    result = _run("--store", store, "export", "mlruns", str(out), "-e", "mlflow_tutorial",
                  "--filter", "metrics.MSE < 40", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["runs_exported"] == 2
    assert sorted(p.name for p in (out / "1").iterdir() if p.is_dir()) == [
        "77c97ff7b2fe46d9becba4c230dd3193", "d39decb7e183450d87f679fb044c6e66"]
    assert not (out / "0").exists()


def test_export_refuses_a_non_empty_folder(seed_root, tmp_path):
    store = str(tmp_path / "s.db")
    _run("--store", store, "import", "mlruns", str(seed_root))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    result = _run("--store", store, "export", "mlruns", str(tmp_path / "out"))
    assert result.exit_code == 1 and "not empty" in result.output


def test_import_mlflow_db_missing_file(tmp_path):
    result = _run("--store", str(tmp_path / "s.db"), "import", "mlflow-db", f"sqlite:///{tmp_path}/none.db")
    assert result.exit_code == 1 and "no such MLflow database" in result.output


def test_import_mlflow_db_cli(mlflow_db, tmp_path):
    url, expected = mlflow_db
    result = _run("--store", str(tmp_path / "s.db"), "import", "mlflow-db", url, "--json")
    assert result.exit_code == 0 and json.loads(result.output)["runs_imported"] == len(expected["runs"])
