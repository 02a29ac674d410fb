"""A run's artifacts: logical paths in the ``artifacts`` table, bytes in the blob store."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Connection, select

from ..entities import FileInfo
from ..errors import ArtifactNotFound, InvalidParameter
from ..store.batch import touch_run
from ..store.dialect import upsert_rows
from ..store.runs import live_run_id, run_internal_id
from ..store.schema import artifacts
from .paths import normalize_artifact_path, safe_destination


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def _record(store, run_id: str, entries: list[tuple[str, str, int]]) -> None:
    """Index (path, digest, size) entries for a run; a path logged again points to the new bytes."""
    now = int(time.time() * 1000)

    def unit(conn: Connection) -> None:
        rid = run_internal_id(store, conn, run_id)
        touch_run(conn, rid, run_id, now)  # and RunNotFound if the run was purged meanwhile
        rows = [
            {"run_id": rid, "path": p, "digest": d, "size": n, "created_time": now}
            for p, d, n in entries
        ]
        upsert_rows(conn, artifacts, rows, update=["digest", "size", "created_time"])

    store.write(unit)


def log_file(
    store, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None
) -> str:
    """Store a local file under ``artifact_path/<its name>``; returns the logical path."""
    src = Path(local_path)
    if not src.is_file():
        raise InvalidParameter(
            f"Cannot log artifact {str(src)!r}: it is not a file (use log_artifacts for a folder)."
        )
    logical = normalize_artifact_path(
        _join(normalize_artifact_path(artifact_path), src.name), allow_root=False
    )
    digest, size = store.blobs.put_file(src)
    _record(store, run_id, [(logical, digest, size)])
    return logical


def log_dir(
    store, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None
) -> list[str]:
    """Store every file below a local folder, keeping the tree, in one index transaction."""
    root = Path(local_dir)
    if not root.is_dir():
        raise InvalidParameter(f"Cannot log artifacts from {str(root)!r}: it is not a folder.")
    prefix = normalize_artifact_path(artifact_path)
    entries = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            src = Path(folder) / name
            rel = src.relative_to(root).as_posix()
            logical = normalize_artifact_path(_join(prefix, rel), allow_root=False)
            entries.append((logical, *store.blobs.put_file(src)))
    if entries:
        _record(store, run_id, entries)
    return [e[0] for e in entries]


def log_bytes(store, run_id: str, data: bytes, artifact_file: str) -> str:
    """Store bytes as the artifact ``artifact_file`` (e.g. ``notes/summary.txt``)."""
    logical = normalize_artifact_path(artifact_file, allow_root=False)
    digest, size = store.blobs.put_bytes(data)
    _record(store, run_id, [(logical, digest, size)])
    return logical


def _entries(store, run_id: str, prefix: str) -> list[tuple[str, str, int]]:
    def unit(conn: Connection) -> list[tuple[str, str, int]]:
        rid = live_run_id(store, conn, run_id)
        a = artifacts.c
        query = select(a.path, a.digest, a.size).where(a.run_id == rid).order_by(a.path)
        if prefix:
            query = query.where(
                (a.path == prefix) | a.path.startswith(prefix + "/", autoescape=True)
            )
        return [tuple(r) for r in conn.execute(query)]

    return store.read(unit)


def list_artifacts(store, run_id: str, path: str | None = None) -> list[FileInfo]:
    """The files and folders directly under ``path`` (the run's root by default), like MLflow's listing."""
    prefix = normalize_artifact_path(path)
    children: dict[str, FileInfo] = {}
    for logical, _digest, size in _entries(store, run_id, prefix):
        if logical == prefix:
            return []  # a file has no children
        rest = logical[len(prefix) + 1 :] if prefix else logical
        head, sep, _ = rest.partition("/")
        child = _join(prefix, head)
        children[child] = FileInfo(child, True, None) if sep else FileInfo(child, False, size)
    return list(children.values())


def read_bytes(store, run_id: str, path: str) -> bytes:
    """The bytes of one artifact file, verified against its digest."""
    logical = normalize_artifact_path(path, allow_root=False)
    for found, digest, _size in _entries(store, run_id, logical):
        if found == logical:
            return store.blobs.read_bytes(digest, context=f"run {run_id}, artifact {logical}")
    raise ArtifactNotFound(
        f"Run {run_id} has no artifact file {logical!r}; list_artifacts shows what it has."
    )


def download(store, run_id: str, path: str | None, dst: str | os.PathLike | None) -> str:
    """Copy an artifact file or folder (the whole run by default) into ``dst``; returns the local path."""
    import tempfile

    prefix = normalize_artifact_path(path)
    entries = _entries(store, run_id, prefix)
    if not entries and prefix:
        raise ArtifactNotFound(
            f"Run {run_id} has no artifact {prefix!r}; list_artifacts shows what it has."
        )
    root = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="sqltrack-"))
    root.mkdir(parents=True, exist_ok=True)
    for logical, digest, _size in entries:
        target = safe_destination(root, logical)
        target.parent.mkdir(parents=True, exist_ok=True)
        store.blobs.copy_to(digest, target, context=f"run {run_id}, artifact {logical}")
    return str(safe_destination(root, prefix) if prefix else root)
