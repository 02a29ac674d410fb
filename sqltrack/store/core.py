"""The Store: one database (SQLite file or server URL) plus its artifact blob folder.

All database access goes through :meth:`Store.read` and :meth:`Store.write`, the
single choke point where transient lock errors are retried and driver errors are
turned into sqltrack errors.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..errors import SqltrackError, StoreError, StoreFull, StoreReadOnly
from .dialect import DialectRules, rules_for
from .engine import WRITE_OPTION, make_engine
from .retry import with_retry
from .writer_lock import WriterQueue

T = TypeVar("T")


def _sqlite_file(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return parsed.database


def _read_only_reason(url: str) -> str | None:
    """The message for logging to a SQLite store this process cannot write, or None if it can."""
    from .engine import sqlite_read_only_reason

    database = _sqlite_file(url)
    why = sqlite_read_only_reason(database) if database else None
    if why is None:
        return None
    return (f"The store {database} is read-only for this process ({why}): it can be searched, shown and "
            "exported, but not logged to. To log, copy it (with its -wal file, if any) to a writable folder, or "
            "fix the permissions.")


def _has_wal(url: str) -> bool:
    database = _sqlite_file(url)
    return bool(database) and os.path.exists(f"{database}-wal") and os.path.getsize(f"{database}-wal") > 0


class Store:
    """An open tracking store. Thread-safe; open one per process (after fork, open anew)."""

    def __init__(self, url: str, artifact_root: str | Path, *, read_only: bool = False) -> None:
        from ..config import artifact_root_location

        self.url = url
        self.artifact_root: Path | str = artifact_root_location(artifact_root)  # a folder, or an fsspec URL
        self.read_only = read_only
        self._read_only_reason = None if read_only else _read_only_reason(url)
        if self._read_only_reason:  # read-only media or no permission: still searchable and exportable
            self.read_only = read_only = True
        self.engine = make_engine(url, read_only=read_only)
        self.rules: DialectRules = rules_for(self.engine.dialect.name)
        self._key_ids: dict[str, int] = {}
        self._run_ids: dict[str, int] = {}
        self._cache_lock = threading.Lock()
        self._blobs = None
        self._writers = WriterQueue(None if read_only else _sqlite_file(url))
        if not read_only:
            from .migrate import ensure_schema

            self._guard(lambda: ensure_schema(self.engine, url, str(self.artifact_root)))
        else:
            self._guard(self._check_read_only_schema)

    @property
    def blobs(self):
        """The content-addressed blob store of this store's artifacts (a ``BlobBackend``).

        A local artifact root (a folder, or a shared network mount) gets a ``BlobStore``; an
        fsspec URL (``s3://bucket/prefix``, ``memory://x``, ``file:///…``) an ``FsspecBlobStore``.
        Either way blobs live under ``<root>/blobs``.
        """
        if self._blobs is None:
            if isinstance(self.artifact_root, str):
                from ..artifacts.fsspec_store import FsspecBlobStore

                self._blobs = FsspecBlobStore(self.artifact_root.rstrip("/") + "/blobs")
            else:
                from ..artifacts.cas import BlobStore

                self._blobs = BlobStore(self.artifact_root / "blobs")
        return self._blobs

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    def read(self, unit: Callable[[Connection], T]) -> T:
        """Run a read-only unit of work in one consistent snapshot."""

        def attempt() -> T:
            with self.engine.connect() as conn, conn.begin():
                return unit(conn)

        return self._guard(lambda: with_retry(attempt))

    def write(self, unit: Callable[[Connection], T]) -> T:
        """Run a unit of work in one write transaction, retried as a whole on lock contention."""
        self.refuse_writes()

        def attempt() -> T:
            # the connection is checked out (and later returned) outside the writers' queue
            with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, self._writers.hold():
                with conn.begin():
                    conn.info["new_key_ids"] = {}
                    result = unit(conn)
                new_keys = conn.info.pop("new_key_ids", {})
            if new_keys:
                with self._cache_lock:
                    self._key_ids.update(new_keys)
            return result

        return self._guard(lambda: with_retry(attempt))

    def refuse_writes(self) -> None:
        """Raise StoreReadOnly, saying why, if this store cannot be written."""
        if self.read_only:
            raise StoreReadOnly(self._read_only_reason or f"The store {self.display_url} was opened read-only; open "
                                "it without read_only to log.")

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain connection for streaming reads (no retry); errors are still translated."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise self._translate(error) from error

    def cached_key_id(self, name: str) -> int | None:
        return self._key_ids.get(name)

    def cached_run_id(self, run_uuid: str) -> int | None:
        return self._run_ids.get(run_uuid)

    def remember_run_id(self, run_uuid: str, run_id: int) -> None:
        with self._cache_lock:
            self._run_ids[run_uuid] = run_id

    def forget_run_ids(self) -> None:
        with self._cache_lock:
            self._run_ids.clear()

    @property
    def display_url(self) -> str:
        """The store's URL for messages (password hidden)."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the database connections and the writer-queue lock file (the disk can then be unmounted)."""
        self.engine.dispose()
        self._writers.close()

    def _check_read_only_schema(self) -> None:
        from .migrate import read_revision
        from .revision import SCHEMA_REVISION

        with self.engine.connect() as conn:
            revision = read_revision(conn)
        if revision != SCHEMA_REVISION:
            raise StoreError(
                f"The store {self.display_url} is at schema {revision!r} but this sqltrack reads "
                f"{SCHEMA_REVISION!r}; open it writable once (or run 'sqltrack db upgrade') first.")

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except SqltrackError:
            raise
        except (SQLAlchemyError, sqlite3.Error) as error:  # sqlite3: from raw connections (PRAGMA journal_mode)
            raise self._translate(error) from error

    def _translate(self, error: Exception) -> SqltrackError:
        text = str(getattr(error, "orig", None) or error)
        low = text.lower()
        where = f"the store {self.display_url}"
        if self.read_only and "unable to open database file" in low and _has_wal(self.url):
            return StoreReadOnly(
                f"Cannot read {where}: this process may not write its folder, and its write-ahead log "
                "(the '-wal' file beside it) holds commits that SQLite reads only with a '-shm' file it would "
                "create there. Copy the store with its -wal file to a writable folder, or open it once where "
                "it is writable so that the log is merged into the file.")
        if "readonly" in low or "read-only" in low or "read only" in low:
            return StoreReadOnly(f"Cannot write to {where}: it is read-only ({text}). "
                                 "Check the file's and folder's permissions, or open it read-only to search.")
        if "disk is full" in low or "no space" in low:
            return StoreFull(f"Cannot write to {where}: the disk is full. Nothing was half-written; "
                             "free some space and log again.")
        if "database is locked" in low:
            return StoreError(f"{where} stayed locked by other writers for too long; try again, or move a "
                              "team-sized workload to a PostgreSQL store.")
        if "unable to open database" in low:
            return StoreError(f"Cannot open {where}: {text}. Check that the folder exists and is writable.")
        return StoreError(f"Database error in {where}: {text}")
