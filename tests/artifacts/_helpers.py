"""Small helpers shared by the artifact tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


def remount_read_only(mnt: Path) -> None:
    """Make a tmpfs mounted by the fixture read-only, even for root."""
    done = _run("mount", "-o", "remount,ro", str(mnt))
    if done.returncode != 0:
        pytest.skip(f"cannot remount {mnt} read-only: {done.stderr.strip()}")


def all_files(root: Path) -> list[Path]:
    """Every file below a folder, for checking that no temp file was left behind."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def corrupt_blob(store, digest: str, data: bytes) -> None:
    """Overwrite a stored blob's bytes behind the store's back (local or fsspec)."""
    if hasattr(store, "fs"):
        store.fs.pipe_file(store.blob_key(digest), data)
    else:
        store.blob_path(digest).write_bytes(data)


def raw_bytes(store, digest: str) -> bytes:
    """Read a stored blob's bytes without verification."""
    if hasattr(store, "fs"):
        return store.fs.cat_file(store.blob_key(digest))
    return store.blob_path(digest).read_bytes()


def plant_file(store, digest_prefix: str, name: str, data: bytes = b"junk") -> None:
    """Create an arbitrary file in a fan-out folder (e.g. a leftover temp file)."""
    if hasattr(store, "fs"):
        folder = f"{store.root}/sha256/{digest_prefix}"
        store.fs.makedirs(folder, exist_ok=True)
        store.fs.pipe_file(f"{folder}/{name}", data)
    else:
        folder = store.root / "sha256" / digest_prefix
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def file_names(store) -> list[str]:
    """Names of every file the store holds, temp files included."""
    if hasattr(store, "fs"):
        base = f"{store.root}/sha256"
        return (
            sorted(k.rsplit("/", 1)[1] for k in store.fs.find(base))
            if store.fs.exists(base)
            else []
        )
    return [p.name for p in all_files(store.root)] if store.root.exists() else []
