"""FsspecBlobStore specifics: construction, lazy import, same on-disk layout as BlobStore."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import pytest

from sqltrack.artifacts import BlobStore, FsspecBlobStore
from sqltrack.artifacts.cas import TEMP_PREFIX
from sqltrack.errors import ArtifactNotFound, StoreFull

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_package_does_not_import_fsspec() -> None:
    code = "import sys, sqltrack.artifacts; print('fsspec' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_file_url_store_and_local_store_share_one_layout(tmp_path: Path) -> None:
    remote = FsspecBlobStore(f"file://{tmp_path / 'blobs'}")
    digest, size = remote.put_bytes(b"shared layout")
    local = BlobStore(tmp_path / "blobs")
    assert local.read_bytes(digest) == b"shared layout"
    digest2, _ = local.put_bytes(b"the other way")
    assert remote.read_bytes(digest2) == b"the other way"
    assert list(remote.iter_digests()) == list(local.iter_digests())
    assert remote.size_on_disk() == local.size_on_disk() == size + len(b"the other way")


def test_existing_filesystem_object_can_be_passed(tmp_path: Path) -> None:
    store = FsspecBlobStore(str(tmp_path / "blobs"), fs=fsspec.filesystem("file"))
    digest, _ = store.put_bytes(b"x")
    assert (tmp_path / "blobs" / "sha256" / digest[:2] / digest).read_bytes() == b"x"
    assert repr(store) == f"FsspecBlobStore({str(tmp_path / 'blobs')!r})"


def test_memory_store_leaves_no_temp_keys_and_creates_nothing_on_read() -> None:
    store = FsspecBlobStore(f"memory://sqltrack-test-{uuid.uuid4().hex}")
    assert not store.fs.exists(store.root)
    with pytest.raises(ArtifactNotFound):
        store.read_bytes("0" * 64)
    assert not store.exists("0" * 64) and list(store.iter_digests()) == []
    assert not store.fs.exists(store.root)
    digest, _ = store.put_bytes(b"in memory")
    keys = store.fs.find(store.root)
    assert [k.rsplit("/", 1)[1] for k in keys] == [digest]
    store.fs.rm(store.root, recursive=True)


def test_clean_temp_files_uses_the_filesystem_clock(tmp_path: Path) -> None:
    store = FsspecBlobStore(f"file://{tmp_path / 'blobs'}")
    digest, _ = store.put_bytes(b"complete")
    folder = tmp_path / "blobs" / "sha256" / digest[:2]
    stale, fresh = folder / f"{TEMP_PREFIX}{digest}-1-old", folder / f"{TEMP_PREFIX}{digest}-2-new"
    stale.write_bytes(b"abandoned")
    fresh.write_bytes(b"live")
    os.utime(stale, (0, 0))
    assert store.clean_temp_files() == 1
    assert fresh.exists() and not stale.exists()
    assert list(store.iter_digests()) == [digest]


@pytest.mark.parametrize("url", ["memory://", "file://"])
def test_copy_to_downloads_into_a_local_folder(url: str, tmp_path: Path) -> None:
    root = f"{url}{tmp_path / 'blobs'}" if url == "file://" else f"memory://t-{uuid.uuid4().hex}"
    store = FsspecBlobStore(root)
    digest, _ = store.put_bytes(b"download me")
    store.copy_to(digest, tmp_path / "out" / "a.bin", context="run r, path a.bin")
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"download me"
    assert store.delete(digest) and not store.exists(digest)


def test_disk_full_through_fsspec_is_store_full_and_leaves_nothing(tmpfs) -> None:
    mnt = tmpfs("256k")
    store = FsspecBlobStore(f"file://{mnt / 'blobs'}")
    with pytest.raises(StoreFull, match="No space left"):
        store.put_bytes(b"\xab" * (1024 * 1024))
    assert [p for p in mnt.rglob("*") if p.is_file()] == []


def test_dedup_hit_refreshes_mtime_on_file_urls(tmp_path: Path) -> None:
    store = FsspecBlobStore(f"file://{tmp_path / 'blobs'}")
    digest, _ = store.put_bytes(b"old blob")
    blob = tmp_path / "blobs" / "sha256" / digest[:2] / digest
    os.utime(blob, (0, 0))
    store.put_bytes(b"old blob")
    assert blob.stat().st_mtime > 0 and blob.read_bytes() == b"old blob"


def test_dedup_hit_on_a_filesystem_without_touch_still_succeeds() -> None:
    store = FsspecBlobStore(f"memory://sqltrack-test-{uuid.uuid4().hex}")
    assert store.put_bytes(b"twice") == store.put_bytes(b"twice")
    store.fs.rm(store.root, recursive=True)
