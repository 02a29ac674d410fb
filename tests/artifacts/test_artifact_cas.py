"""BlobStore specifics on a real local folder: temp files, killed writers, odd destinations."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sqltrack.artifacts import BlobStore
from sqltrack.artifacts.cas import TEMP_PREFIX
from sqltrack.errors import StoreError, StoreReadOnly

from ._helpers import all_files

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_reads_on_a_missing_root_create_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "never-created")
    assert not store.exists("a" * 64)
    assert list(store.iter_digests()) == []
    assert store.size_on_disk() == 0
    assert store.clean_temp_files(0) == 0
    assert store.delete("a" * 64) is False
    assert not store.root.exists()


def test_blob_is_a_plain_file_at_its_documented_path(blobs: BlobStore) -> None:
    digest, _ = blobs.put_bytes(b"payload")
    expected = blobs.root / "sha256" / digest[:2] / digest
    assert blobs.blob_path(digest) == expected
    assert expected.read_bytes() == b"payload"
    assert all_files(blobs.root) == [expected]


def test_put_file_missing_or_folder_source_raises_plain_oserror(
    blobs: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        blobs.put_file(tmp_path / "missing.bin")
    with pytest.raises(IsADirectoryError):
        blobs.put_file(tmp_path)
    assert not blobs.root.exists()


def test_copy_to_replaces_a_symlink_instead_of_writing_through_it(
    blobs: BlobStore, tmp_path: Path
) -> None:
    digest, _ = blobs.put_bytes(b"artifact")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"do not touch")
    dest = tmp_path / "out" / "a.txt"
    dest.parent.mkdir()
    dest.symlink_to(victim)
    blobs.copy_to(digest, dest)
    assert not dest.is_symlink() and dest.read_bytes() == b"artifact"
    assert victim.read_bytes() == b"do not touch"


def test_a_file_where_a_folder_should_be_gives_a_clear_store_error(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "sha256").write_text("not a folder")
    store = BlobStore(root)
    with pytest.raises(StoreError) as info:
        store.put_bytes(b"data")
    assert not isinstance(info.value, StoreReadOnly)
    assert str(root) in str(info.value) and "sits where its sub-folders go" in str(info.value)
    assert list(store.iter_digests()) == []
    with pytest.raises(FileNotFoundError):  # ArtifactNotFound: nothing can be stored there
        store.read_bytes(hashlib.sha256(b"data").hexdigest())


def test_clean_temp_files_spares_fresh_ones_and_removes_old_ones(blobs: BlobStore) -> None:
    digest, _ = blobs.put_bytes(b"complete")
    folder = blobs.blob_path(digest).parent
    fresh = folder / f"{TEMP_PREFIX}{digest}-123-fresh"
    old = folder / f"{TEMP_PREFIX}{digest}-456-old"
    fresh.write_bytes(b"in progress")
    old.write_bytes(b"abandoned")
    two_hours_ago = os.stat(old).st_mtime - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    assert blobs.clean_temp_files() == 1
    assert fresh.exists() and not old.exists()
    assert blobs.clean_temp_files(older_than_s=0) == 1
    assert all_files(blobs.root) == [blobs.blob_path(digest)]


WRITER_OVER_FILE_SIZE_LIMIT = textwrap.dedent(
    """
    import resource, signal, sys
    from sqltrack.artifacts import BlobStore
    from sqltrack.errors import StoreFull
    if sys.argv[2] == "kill":  # Python ignores SIGXFSZ; restore the default: terminate
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
    try:
        BlobStore(sys.argv[1]).put_bytes(b"x" * (4 * 1024 * 1024))
    except StoreFull as error:
        print(error)
        sys.exit(3)
    """
)


def _write_over_file_size_limit(root: Path, mode: str) -> subprocess.CompletedProcess:
    """Run a writer whose blob exceeds RLIMIT_FSIZE, in a child process."""
    return subprocess.run(
        [sys.executable, "-c", WRITER_OVER_FILE_SIZE_LIMIT, str(root), mode],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_file_size_limit_is_store_full_and_leaves_nothing(tmp_path: Path) -> None:
    """With SIGXFSZ ignored (Python's default) the write fails with EFBIG."""
    done = _write_over_file_size_limit(tmp_path / "blobs", "error")
    assert done.returncode == 3, done.stderr
    assert "File too large" in done.stdout and "file-size limit" in done.stdout
    assert all_files(tmp_path / "blobs") == []


def test_writer_killed_mid_write_leaves_only_an_invisible_temp_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel kill the writer (SIGXFSZ) part-way through the blob."""
    root = tmp_path / "blobs"
    done = _write_over_file_size_limit(root, "kill")
    assert done.returncode == -signal.SIGXFSZ, done.stderr
    leftovers = all_files(root)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(TEMP_PREFIX)
    assert leftovers[0].stat().st_size == 64 * 1024
    store = BlobStore(root)
    digest = hashlib.sha256(b"x" * (4 * 1024 * 1024)).hexdigest()
    assert not store.exists(digest)
    assert list(store.iter_digests()) == [] and store.size_on_disk() == 0
    assert store.clean_temp_files() == 0  # too young: might be a live writer
    assert store.clean_temp_files(older_than_s=0) == 1
    assert all_files(root) == []


def test_dedup_hit_refreshes_mtime_so_gc_grace_protects_the_blob(
    blobs: BlobStore, tmp_path: Path
) -> None:
    digest, _ = blobs.put_bytes(b"old blob")
    os.utime(blobs.blob_path(digest), (0, 0))
    blobs.put_bytes(b"old blob")
    assert blobs.blob_path(digest).stat().st_mtime > 0
    os.utime(blobs.blob_path(digest), (0, 0))
    (tmp_path / "src.bin").write_bytes(b"old blob")
    blobs.put_file(tmp_path / "src.bin")
    assert blobs.blob_path(digest).stat().st_mtime > 0
