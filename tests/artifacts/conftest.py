"""Fixtures for the artifact tests: blob stores on real folders, and tiny tmpfs mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sqltrack.artifacts import BlobStore, FsspecBlobStore

BACKENDS = ["local", "fsspec-memory", "fsspec-file"]


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    """A local blob store in an empty folder."""
    return BlobStore(tmp_path / "blobs")


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[BlobStore | FsspecBlobStore]:
    """Each blob backend in turn, rooted somewhere empty."""
    if request.param == "local":
        yield BlobStore(tmp_path / "blobs")
    elif request.param == "fsspec-file":
        yield FsspecBlobStore(f"file://{tmp_path / 'blobs'}")
    else:
        store = FsspecBlobStore(f"memory://sqltrack-test-{uuid.uuid4().hex}")
        yield store
        if store.fs.exists(store.root):
            store.fs.rm(store.root, recursive=True)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs filesystems under tmp_path (needs root); skips where impossible."""
    mounted: list[Path] = []

    def mount(size: str = "256k") -> Path:
        if os.geteuid() != 0 or not shutil.which("mount"):
            pytest.skip("mounting a tmpfs needs root and the mount command")
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mnt))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(mnt)
        return mnt

    yield mount
    for mnt in reversed(mounted):
        _run("umount", "-l", str(mnt))
