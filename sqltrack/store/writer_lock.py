"""A queue for SQLite writers: an OS file lock taken before ``BEGIN IMMEDIATE``.

SQLite's own busy handler polls, sleeping up to 100 ms between tries, so with many
writer processes most waiters oversleep the moment the lock frees. A blocking
``flock`` on ``<database>-writer.lock`` wakes the next writer at once. Readers never
take it. Where the lock file cannot be created (read-only folder, no ``fcntl``), writers
fall back to SQLite's busy handler alone — still correct, only slower under contention.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler does the waiting
    fcntl = None  # type: ignore[assignment]


class WriterQueue:
    """Serialises the write transactions of every process using one SQLite file."""

    def __init__(self, database: str | None) -> None:
        self._path = f"{database}-writer.lock" if database and fcntl is not None else None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def _descriptor(self) -> int | None:
        if self._path is None:
            return None
        if self._pid != os.getpid():  # a forked child needs its own open file description
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError:
                self._path = None
                return None
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Wait for our turn to write, and keep it until the block ends."""
        with self._thread_lock:
            fd = self._descriptor()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (so its disk can be unmounted); the next write opens it again."""
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = self._pid = None
