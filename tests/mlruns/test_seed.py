"""The seed fixture (a real MLflow 1.x tree from another machine) imports completely."""

from __future__ import annotations

import hashlib

import sqltrack
from sqltrack import Client
from sqltrack.store import open_store

from ._compare import store_state

EXPECTED_PKL = {  # run id -> SHA-256 of its artifacts/toy_model.pkl
    "41e1628508fc4a2f83651ceceede6d8a": "54dcb8111940a70eed12c200310f96779e3d31d895265203c03b92e2f37194a7",
    "77c97ff7b2fe46d9becba4c230dd3193": "b01139d96e45e7b0e47f2fb8c99a513fa8db50193d0c0103d199462ad1807c54",
    "d39decb7e183450d87f679fb044c6e66": "e9b898c3f37820ce9f100c0d65f65521fc68c44637d798ef3623f1f64c07a760",
    "f11b91bf1c7441c5bacc7e73adfbbe59": "8b6e545405a1c5e0099eda0297fc23fc7d6ad6cd137cdc296f569b07367b5f65",
}
PCA_MSE = {"0.3": 57.88431301468579, "0.8": 31.83123740311039, "0.95": 31.675891600466265, "1": 57.88431301468579}


def test_seed_imports_completely(seed_root, client):
    summary = sqltrack.import_mlruns(seed_root, client)
    assert (summary.runs_imported, summary.runs_failed, summary.problems) == (5, 0, [])
    assert {e.name for e in client.search_experiments()} == {"Default", "mlflow_tutorial"}
    found = client.search_runs(["0", "1"], max_results=None)
    assert len(found) == 5
    tutorial = [r for r in found if r.info.experiment_id == "1"]
    assert {r.data.params["pca_var"]: r.data.metrics["MSE"] for r in tutorial} == PCA_MSE
    for run in tutorial:
        data = client.store.blobs.read_bytes(_digest(client, run.info.run_id, "toy_model.pkl"))
        assert hashlib.sha256(data).hexdigest() == EXPECTED_PKL[run.info.run_id]
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["toy_model.pkl"]


def _digest(client, run_id: str, path: str) -> str:
    from sqlalchemy import select

    from sqltrack.store.schema import artifacts, runs

    query = (select(artifacts.c.digest).join(runs, runs.c.id == artifacts.c.run_id)
             .where(runs.c.run_uuid == run_id, artifacts.c.path == path))
    return client.store.read(lambda conn: conn.execute(query).scalar_one())


def test_seed_keeps_ids_times_and_legacy_fields(seed_root, client):
    sqltrack.import_mlruns(seed_root, client)
    run = client.get_run("41e1628508fc4a2f83651ceceede6d8a")
    assert (run.info.start_time, run.info.end_time, run.info.status) == (1632497206223, 1632497206274, "FINISHED")
    assert run.info.user_id == "deena_gergis"
    assert run.data.tags["mlflow.source.type"] == "LOCAL"
    history = client.get_metric_history(run.info.run_id, "MSE")
    assert [(m.timestamp, m.step) for m in history] == [(1632497206259, 0)]
    default_run = client.get_run("d4c828f607d042e0b596074fe2aea23f")  # no params/metrics/artifacts folders
    assert (default_run.data.params, default_run.data.metrics) == ({}, {})


def test_seed_rebases_absolute_artifact_uris(seed_root, client):
    summary = sqltrack.import_mlruns(seed_root, client)
    # the URIs point at /home/deena_gergis/...; the files were found inside the tree instead
    assert summary.artifact_files == 4 and summary.artifact_bytes == 1919 + 2522 + 3098 + 1943
    assert not summary.warnings


def test_seed_import_twice_changes_nothing(seed_root, client):
    sqltrack.import_mlruns(seed_root, client)
    before = store_state(client.store)
    again = sqltrack.import_mlruns(seed_root, client)
    assert (again.runs_unchanged, again.runs_imported, again.runs_updated) == (5, 0, 0)
    assert again.experiments_unchanged == 2 and again.metric_points == 0
    assert store_state(client.store) == before


def test_seed_round_trip_gives_an_identical_store(seed_root, tmp_path):
    first = open_store(tmp_path / "first.db")
    sqltrack.import_mlruns(seed_root, first)
    sqltrack.export_mlruns(tmp_path / "out", first)
    second = open_store(tmp_path / "second.db")
    sqltrack.import_mlruns(tmp_path / "out", second)
    assert store_state(second) == store_state(first)
    first.close()
    second.close()


def test_seed_dry_run_writes_nothing(seed_root, tmp_path):
    client = Client(tmp_path / "s.db")
    summary = sqltrack.import_mlruns(seed_root, client, dry_run=True)
    assert summary.dry_run and summary.runs_imported == 5 and summary.artifacts_deduplicated == 0
    assert client.search_runs(["0"], max_results=None) == []
    assert not (tmp_path / "s-artifacts" / "blobs").exists()
    client.close()
