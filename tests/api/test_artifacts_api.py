"""Artifacts through the Client: dedup, integrity, traversal, download, models."""

from __future__ import annotations

import hashlib

import pytest

from sqltrack.errors import ArtifactIntegrityError, ArtifactNotFound, InvalidArtifactPath, InvalidParameter


def test_same_bytes_in_1000_runs_are_stored_once(client, tmp_path):
    data = b"weights" * 1000
    (tmp_path / "w.bin").write_bytes(data)
    run_ids = [client.create_run("0").info.run_id for _ in range(1000)]
    for run_id in run_ids:
        client.log_artifact(run_id, tmp_path / "w.bin", "model")
    blobs = list(client.store.blobs.iter_digests())
    assert blobs == [hashlib.sha256(data).hexdigest()]
    assert client.list_artifacts(run_ids[-1], "model")[0].file_size == len(data)


def test_download_reproduces_the_tree(client, tmp_path):
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "a" / "b" / "deep.csv").write_text("x,y\n1,2\n")
    run_id = client.create_run("0").info.run_id
    client.log_artifacts(run_id, src, "data")
    client.download_artifacts(run_id, "", tmp_path / "out")
    assert (tmp_path / "out" / "data" / "top.txt").read_text() == "top"
    assert (tmp_path / "out" / "data" / "a" / "b" / "deep.csv").read_text() == "x,y\n1,2\n"
    single = client.download_artifacts(run_id, "data/a/b/deep.csv", tmp_path / "one")
    assert single.endswith("deep.csv")
    assert [f.path for f in client.list_artifacts(run_id, "data")] == ["data/a", "data/top.txt"]


def test_corrupted_blob_names_run_and_path(client):
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "precious", "notes.txt")
    [digest] = client.store.blobs.iter_digests()
    client.store.blobs.blob_path(digest).write_bytes(b"tampered")
    with pytest.raises(ArtifactIntegrityError) as info:
        client.load_text(run_id, "notes.txt")
    assert run_id in str(info.value) and "notes.txt" in str(info.value)


@pytest.mark.parametrize("bad", ["../escape.txt", "a/../../x", "/etc/passwd", "C:\\x", "a\\..\\b", "a\x00b", ".."])
def test_traversal_is_refused(client, tmp_path, bad):
    (tmp_path / "f.txt").write_text("x")
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidArtifactPath):
        client.log_text(run_id, "x", bad)
    with pytest.raises(InvalidArtifactPath):
        client.log_artifact(run_id, tmp_path / "f.txt", bad)
    with pytest.raises(InvalidArtifactPath):
        client.download_artifacts(run_id, bad, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_missing_artifact(client):
    run_id = client.create_run("0").info.run_id
    with pytest.raises(ArtifactNotFound, match="nothing.txt"):
        client.load_text(run_id, "nothing.txt")


def test_model_round_trip_and_tamper_check(client):
    run_id = client.create_run("0").info.run_id
    info = client.log_model(run_id, {"weights": [1, 2, 3]}, "model")
    assert info["model_uri"] == f"runs:/{run_id}/model"
    assert client.load_model(info["model_uri"]) == {"weights": [1, 2, 3]}
    meta = client.load_dict(run_id, "model/sqltrack_model.json")
    assert meta["class"] == "builtins.dict" and len(meta["sha256"]) == 64
    import cloudpickle

    import sqltrack.artifacts.repository as repo

    repo.log_bytes(client.store, run_id, cloudpickle.dumps({"evil": True}), "model/model.pkl")  # swap the pickle
    with pytest.raises(ArtifactIntegrityError, match="tampered"):
        client.load_model(f"runs:/{run_id}/model")


@pytest.mark.parametrize("uri", ["model", "runs:/", "runs:/abc", "s3://bucket/model"])
def test_bad_model_uris(client, uri):
    with pytest.raises(InvalidParameter, match="runs:/"):
        client.load_model(uri)
