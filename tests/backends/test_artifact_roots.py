"""Artifacts for teams: the artifact root may be a folder, a shared mount, or any fsspec URL.

Runs on every backend (``store_url``) with the local and the in-memory fsspec filesystems:
content addressing, digest checks on read, and garbage collection through the
``BlobBackend`` protocol hold there as on a local folder.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqltrack import Client
from sqltrack.artifacts import BlobBackend, BlobStore, FsspecBlobStore
from sqltrack.cli import cli
from sqltrack.config import artifact_root_location, resolve
from sqltrack.errors import ArtifactIntegrityError
from sqltrack.store.gc import collect


@pytest.fixture(params=["memory", "file"])
def url_root(request, tmp_path):
    """An fsspec artifact root URL: in memory, or a local folder written through fsspec."""
    if request.param == "memory":
        root = f"memory://sqltrack-{uuid.uuid4().hex}"
        yield root
        import fsspec

        fs = fsspec.filesystem("memory")
        if fs.exists(root):
            fs.rm(root, recursive=True)
    else:
        yield (tmp_path / "shared").as_uri()


def test_urls_stay_urls_and_paths_become_absolute(tmp_path, monkeypatch):
    assert artifact_root_location("s3://bucket/prefix") == "s3://bucket/prefix"
    assert artifact_root_location("relative/dir") == Path.cwd() / "relative" / "dir"
    assert resolve("postgresql+psycopg://u@h/db", "memory://x").artifact_root == "memory://x"
    monkeypatch.setenv("SQLTRACK_ARTIFACT_ROOT", "s3://team-bucket/sqltrack")
    assert resolve("postgresql+psycopg://u@h/db").artifact_root == "s3://team-bucket/sqltrack"
    assert resolve(tmp_path / "a.db").artifact_root == "s3://team-bucket/sqltrack"
    monkeypatch.delenv("SQLTRACK_ARTIFACT_ROOT")
    assert resolve(tmp_path / "a.db").artifact_root == tmp_path / "a-artifacts"


def test_a_url_root_gets_the_fsspec_backend(store_url, url_root, tmp_path):
    client = Client(store_url, artifact_root=url_root)
    blobs = client.store.blobs
    assert isinstance(blobs, FsspecBlobStore) and isinstance(blobs, BlobBackend)
    assert blobs.url == url_root + "/blobs"
    local = Client(store_url, artifact_root=tmp_path / "folder")
    assert isinstance(local.store.blobs, BlobStore)
    local.close()
    client.close()


def test_artifacts_round_trip_once_per_content(store_url, url_root, tmp_path):
    client = Client(store_url, artifact_root=url_root)
    payload = os.urandom(300_000)
    (tmp_path / "model.bin").write_bytes(payload)
    ids = []
    for index in range(3):
        run_id = client.create_run("0").info.run_id
        client.log_artifact(run_id, tmp_path / "model.bin", "model")
        client.log_text(run_id, f"run {index}", "notes.txt")
        ids.append(run_id)
    digest = hashlib.sha256(payload).hexdigest()
    assert digest in set(client.store.blobs.iter_digests())
    assert len(list(client.store.blobs.iter_digests())) == 4  # one model, three notes
    out = Path(client.download_artifacts(ids[1], "", tmp_path / "out"))
    assert (out / "model" / "model.bin").read_bytes() == payload
    assert client.load_text(ids[2], "notes.txt") == "run 2"
    assert [f.path for f in client.list_artifacts(ids[0], "model")] == ["model/model.bin"]
    client.close()


def test_a_tampered_blob_is_refused_on_read(store_url, url_root):
    client = Client(store_url, artifact_root=url_root)
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "the real text", "notes.txt")
    [digest] = client.store.blobs.iter_digests()
    blobs = client.store.blobs
    with blobs.fs.open(blobs.blob_key(digest), "wb") as out:
        out.write(b"the fake text")
    with pytest.raises(ArtifactIntegrityError, match=f"run {run_id}, artifact notes.txt"):
        client.load_text(run_id, "notes.txt")
    client.close()


def test_gc_works_through_the_protocol(store_url, url_root):
    client = Client(store_url, artifact_root=url_root)
    keep, drop = client.create_run("0").info.run_id, client.create_run("0").info.run_id
    client.log_text(keep, "kept", "a.txt")
    client.log_text(drop, "dropped", "b.txt")
    client.delete_run(drop)
    young = collect(client.store)  # within the grace period: the orphan blob stays
    assert (young.runs, young.blobs) == (1, 0) and len(list(client.store.blobs.iter_digests())) == 2
    info = client.store.blobs.blob_info(hashlib.sha256(b"dropped").hexdigest())
    assert info.size == len(b"dropped") and abs(info.modified - time.time()) < 600
    old = collect(client.store, blob_grace_seconds=0)
    assert (old.blobs, old.blob_bytes) == (1, len(b"dropped"))
    assert list(client.store.blobs.iter_digests()) == [hashlib.sha256(b"kept").hexdigest()]
    assert client.load_text(keep, "a.txt") == "kept"
    client.close()


def test_blob_info_on_every_backend(tmp_path):
    for blobs in (BlobStore(tmp_path / "local"), FsspecBlobStore(f"memory://info-{uuid.uuid4().hex}"),
                  FsspecBlobStore((tmp_path / "via-fsspec").as_uri())):
        digest, size = blobs.put_bytes(b"12345")
        info = blobs.blob_info(digest)
        assert info.size == size == 5 and info.modified is not None and abs(info.modified - time.time()) < 600
        assert blobs.blob_info(hashlib.sha256(b"absent").hexdigest()) is None


def test_the_cli_takes_a_url_artifact_root(store_url, tmp_path):
    root = f"memory://cli-{uuid.uuid4().hex}"
    client = Client(store_url, artifact_root=root)
    run_id = client.create_run("0").info.run_id
    client.log_text(run_id, "hello", "hello.txt")
    client.delete_run(run_id)
    client.close()
    result = CliRunner().invoke(cli, ["--store", store_url, "--artifact-root", root, "gc", "--blob-grace", "0",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert '"blobs": 1' in result.output
