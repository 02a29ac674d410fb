"""Artifact paths and models from untrusted hands: nothing is written outside where it belongs.

* Logical paths with '..', absolute paths, NUL or backslash tricks are refused when logging
  and when downloading, and a refused log stores nothing.
* A download never writes outside its destination folder, even from a store whose artifact
  index was edited by hand (a store copied from elsewhere), or with symlinks planted inside the
  destination.
* load_model checks the digest before unpickling: a swapped or edited model.pkl is refused and
  its code never runs. (A store whose metadata was forged too is trusted: see the Guarantees.)
"""

from __future__ import annotations

import pickle
import sqlite3

import pytest

from sqltrack.errors import ArtifactIntegrityError, InvalidArtifactPath

pytestmark = pytest.mark.sqlite_only  # paths and files: the database backend plays no part

BAD_PATHS = [
    "..", "../x", "a/../../x", "a/..", "./../x", "/etc/passwd", "//server/share", "C:/Windows", "C:x",
    "a\\..\\..\\x", "..\\x", "\\\\server\\share", "a\x00b", "a/\x00/b", "\x00", "a\nb", "a/ /b", "a/. ./b",
    "...", "a/.../b", "a//b",
]


@pytest.fixture
def run_id(client):
    return client.create_run("0").info.run_id


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source" / "file.txt"
    path.parent.mkdir()
    path.write_text("payload")
    return path


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_are_refused_when_logging_and_store_nothing(client, run_id, source, bad):
    for call in (lambda: client.log_text(run_id, "x", bad), lambda: client.log_text(run_id, "x", f"{bad}/f.txt"),
                 lambda: client.log_artifact(run_id, source, artifact_path=bad),
                 lambda: client.log_artifacts(run_id, source.parent, artifact_path=bad)):
        with pytest.raises(InvalidArtifactPath):
            call()
    assert client.list_artifacts(run_id) == []
    blobs = client.store.artifact_root / "blobs"
    assert not blobs.exists() or [p for p in blobs.rglob("*") if p.is_file()] == []  # refused before storing


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_bad_paths_are_refused_when_reading_and_downloading(client, run_id, tmp_path, bad):
    client.log_text(run_id, "inside", "notes/a.txt")
    dest = tmp_path / "dest"
    with pytest.raises(InvalidArtifactPath):
        client.load_text(run_id, bad)
    with pytest.raises(InvalidArtifactPath):
        client.download_artifacts(run_id, bad, dest)
    assert _outside_files(tmp_path, dest) == []


def _outside_files(tmp_path, dest) -> list:
    """Files written under tmp_path but outside the destination (and outside the store's own folders)."""
    ignore = ("sqltrack.db", "sqltrack-artifacts", "source")
    return [p for p in tmp_path.rglob("*") if p.is_file() and dest not in p.parents
            and not any(part in ignore or part.startswith("sqltrack.db") for part in p.relative_to(tmp_path).parts)]


def test_fluent_download_refuses_escaping_uris(fluent, tmp_path):
    with fluent.start_run() as run:
        fluent.log_text("inside", "a.txt")
    for uri in (f"runs:/{run.info.run_id}/../..", f"runs:/{run.info.run_id}/../../etc"):
        with pytest.raises(InvalidArtifactPath):
            fluent.download_artifacts(artifact_uri=uri, dst_path=str(tmp_path / "d"))


def test_download_from_a_tampered_index_never_leaves_the_destination(client, run_id, store_path, tmp_path):
    """A store copied from elsewhere may carry any path in its artifacts table: downloads refuse them."""
    client.log_text(run_id, "good", "good.txt")
    digest = client.store.read(lambda c: c.exec_driver_sql("SELECT digest FROM artifacts").scalar())
    db = sqlite3.connect(store_path)
    rid = db.execute("SELECT id FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()[0]
    for evil in ("../../escaped.txt", "/tmp/absolute-escape.txt", "a/../../../escaped2.txt", "x\\..\\..\\y"):
        db.execute("INSERT INTO artifacts (run_id, path, digest, size, created_time) VALUES (?, ?, ?, 4, 0)",
                   (rid, evil, digest))
    db.commit()
    db.close()
    dest = tmp_path / "out" / "dest"
    with pytest.raises(InvalidArtifactPath):
        client.download_artifacts(run_id, "", dest)
    assert _outside_files(tmp_path, dest) == []
    assert not (tmp_path / "out" / "escaped.txt").exists()


def test_symlinks_planted_in_the_destination_are_not_followed_out(client, run_id, tmp_path):
    client.log_text(run_id, "new", "notes/a.txt")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("precious")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "notes").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidArtifactPath):
        client.download_artifacts(run_id, "", dest)
    assert (outside / "a.txt").read_text() == "precious"
    (dest / "notes").unlink()
    (dest / "notes").mkdir()
    (dest / "notes" / "a.txt").symlink_to(outside / "a.txt")  # a file symlink pointing out: refused too
    with pytest.raises(InvalidArtifactPath):
        client.download_artifacts(run_id, "", dest)
    assert (outside / "a.txt").read_text() == "precious"


# ----- models ------------------------------------------------------------------------------------
class _Boom:
    """Unpickling this creates a marker file: stands for any code an attacker would run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_model_round_trip(client, run_id):
    info = client.log_model(run_id, {"weights": [1, 2, 3]}, "model")
    assert client.load_model(info["model_uri"]) == {"weights": [1, 2, 3]}


def test_a_swapped_model_file_is_refused_before_unpickling(client, run_id, tmp_path):
    info = client.log_model(run_id, {"weights": [1]}, "model")
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil" / "model.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps(_Boom(str(marker))))
    client.log_artifact(run_id, evil, artifact_path="model")  # a valid blob, but not the model that was logged
    with pytest.raises(ArtifactIntegrityError, match="not loaded"):
        client.load_model(info["model_uri"])
    assert not marker.exists()


def test_an_edited_model_blob_is_refused_before_unpickling(client, run_id, tmp_path):
    info = client.log_model(run_id, {"weights": [1]}, "model")
    marker = tmp_path / "code-ran"
    digest = client.store.read(lambda c: c.exec_driver_sql(
        "SELECT digest FROM artifacts WHERE path = 'model/model.pkl'").scalar())
    client.store.blobs.blob_path(digest).write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ArtifactIntegrityError):
        client.load_model(info["model_uri"])
    assert not marker.exists()
