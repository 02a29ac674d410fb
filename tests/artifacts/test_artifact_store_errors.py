"""Full disks, read-only filesystems and permission denials, on real filesystems (no mocks)."""

from __future__ import annotations

import errno
import hashlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqltrack.artifacts import BlobStore
from sqltrack.artifacts.cas import TEMP_PREFIX
from sqltrack.errors import ArtifactNotFound, StoreFull, StoreReadOnly

from ._helpers import all_files, remount_read_only

BIG = b"\xab" * (1024 * 1024)  # larger than the 256 KiB tmpfs


def test_disk_full_is_store_full_and_leaves_no_temp_file(tmpfs) -> None:
    store = BlobStore(tmpfs("256k") / "blobs")
    with pytest.raises(StoreFull) as info:
        store.put_bytes(BIG)
    assert info.value.errno == errno.ENOSPC
    assert isinstance(info.value, OSError)
    message = str(info.value)
    assert str(store.root) in message and "No space left" in message and "Free space" in message
    assert all_files(store.root) == []
    assert store.put_bytes(b"small") == (hashlib.sha256(b"small").hexdigest(), 5)


def test_disk_full_during_put_file(tmpfs, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(BIG)
    store = BlobStore(tmpfs("256k") / "blobs")
    with pytest.raises(StoreFull):
        store.put_file(src)
    assert all_files(store.root) == []


def test_disk_full_while_downloading_keeps_the_old_file(tmpfs, tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    digest, _ = store.put_bytes(BIG)
    dest = tmpfs("256k") / "model.pkl"
    dest.write_bytes(b"old")
    with pytest.raises(OSError) as info:  # the user's folder, not the store: plain OSError
        store.copy_to(digest, dest)
    assert info.value.errno == errno.ENOSPC
    assert dest.read_bytes() == b"old" and list(dest.parent.iterdir()) == [dest]


@pytest.fixture
def read_only_store(tmpfs) -> Iterator[tuple[BlobStore, str, Path]]:
    """A store with one blob and one old temp file on a filesystem then remounted read-only."""
    mnt = tmpfs("1m")
    store = BlobStore(mnt / "blobs")
    digest, _ = store.put_bytes(b"kept")
    stale = store.blob_path(digest).parent / f"{TEMP_PREFIX}{digest}-1-stale"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    remount_read_only(mnt)
    yield store, digest, stale


def test_read_only_store_can_be_read(read_only_store, tmp_path: Path) -> None:
    store, digest, _ = read_only_store
    assert store.read_bytes(digest) == b"kept"
    assert store.exists(digest) and list(store.iter_digests()) == [digest]
    store.copy_to(digest, tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"kept"
    assert store.put_bytes(b"kept") == (digest, 4)  # already there: nothing to write


def test_read_only_store_refuses_writes_clearly(read_only_store) -> None:
    store, digest, stale = read_only_store
    with pytest.raises(StoreReadOnly) as info:
        store.put_bytes(b"new bytes")
    assert info.value.errno == errno.EROFS and isinstance(info.value, PermissionError)
    assert str(store.root) in str(info.value) and "read-only" in str(info.value)
    with pytest.raises(StoreReadOnly):
        store.delete(digest)
    with pytest.raises(StoreReadOnly):
        store.clean_temp_files()
    assert stale.exists()


def test_empty_read_only_store_reads_without_creating_anything(tmpfs) -> None:
    mnt = tmpfs("64k")
    remount_read_only(mnt)
    store = BlobStore(mnt / "blobs")
    with pytest.raises(ArtifactNotFound):
        store.read_bytes("a" * 64)
    assert list(store.iter_digests()) == [] and store.size_on_disk() == 0
    with pytest.raises(StoreReadOnly):
        store.put_bytes(b"x")
    assert list(mnt.iterdir()) == []


def _write_as_nobody(root: str, digest: str, conn) -> None:
    """Child process: drop root, then read one blob and try to write another."""
    try:
        os.setgid(65534)
        os.setuid(65534)
        conn.send(("read", BlobStore(root).read_bytes(digest)))
        BlobStore(root).put_bytes(b"not allowed")
        conn.send(("put", "no error", 0, ""))
    except StoreReadOnly as error:
        conn.send(("put", "StoreReadOnly", error.errno, str(error)))
    except BaseException as error:  # report anything else to the parent
        conn.send(("put", type(error).__name__, 0, str(error)))
    finally:
        conn.close()


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A world-traversable folder (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="sqltrack-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_permission_denied_is_store_read_only(shared_folder: Path) -> None:
    """A store owned by root, written by an unprivileged user: EACCES, for real."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    store = BlobStore(shared_folder / "blobs")
    digest, _ = store.put_bytes(b"owned by root")
    parent, child = multiprocessing.get_context("fork").Pipe()
    proc = multiprocessing.get_context("fork").Process(
        target=_write_as_nobody, args=(str(store.root), digest, child)
    )
    proc.start()
    child.close()  # so a crashed child gives EOFError here instead of a hang
    read, put = parent.recv(), parent.recv()
    proc.join()
    assert read == ("read", b"owned by root")
    assert put[:3] == ("put", "StoreReadOnly", errno.EACCES), put
    assert "Permission denied" in put[3] and str(store.root) in put[3]
    assert all_files(store.root) == [store.blob_path(digest)]
