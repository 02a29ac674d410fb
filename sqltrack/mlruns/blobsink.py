"""Putting artifact files into the content-addressed blob store during an import.

Differences from :meth:`BlobStore.put_file`, made for bulk imports:

* a small file is read once (hashed and written from the same bytes);
* blobs are written atomically (temp file in the blob's folder, then ``os.replace``) but
  not fsynced one by one: :meth:`BlobSink.flush` syncs once before the import returns.
  A crash can lose blobs of the last runs; importing again restores them, because every
  import checks that each blob it relies on is present with the right size;
* it counts what was deduplicated, and several threads may import the same bytes at once:
  one writes, the others wait for it, so no run is committed before its blobs exist.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from ..artifacts.cas import BlobStore, copy_source, hash_file, temp_name
from ..errors import ImportFailure
from .files import check_regular, read_file

_SMALL = 4 << 20


class BlobSink:
    """Stores (or, for a dry run, only hashes) artifact files; safe to share between threads."""

    def __init__(self, blobs: BlobStore, write: bool = True) -> None:
        if not isinstance(blobs, BlobStore):  # the fast path writes blob files directly
            raise ImportFailure(
                f"Importing into an artifact root that is a URL ({blobs!r}) is not supported yet: import into a "
                "store with a local (or network-mounted) artifact folder, then move it with 'sqltrack copy'.")
        self.blobs = blobs
        self.write = write
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Event] = {}
        self._done: set[str] = set()
        self._folders: set[str] = set()

    def put(self, path: str) -> tuple[str, int, int, bool]:
        """Store one file; returns ``(digest, size, mtime ms, whether its bytes were new)``."""
        try:
            info = os.stat(path)
        except OSError as error:
            raise ImportFailure(f"{path}: cannot read this artifact ({error.strerror}).") from None
        check_regular(path, info, None, "artifact")
        mtime = info.st_mtime_ns // 1_000_000
        if info.st_size <= _SMALL:
            data = read_file(path, _SMALL, "artifact")
            digest, size = hashlib.sha256(data).hexdigest(), len(data)
        else:
            data = None
            digest, size = _hash_large(path)
        final = self.blobs.blob_file(digest)
        new, event = self._claim(digest, size, final)
        if event is not None:
            stored = False
            try:
                self._store(path, data, digest, final)
                stored = True
            finally:
                self._release(digest, event, stored)
        return digest, size, mtime, new

    def _claim(self, digest: str, size: int, final: str) -> tuple[bool, threading.Event | None]:
        """Decide who writes a blob: (new?, event to set when written, if this caller writes)."""
        while True:
            with self._lock:
                if digest in self._done:
                    return False, None
                waiting = self._pending.get(digest)
                if waiting is None:
                    if self._present(final, size):
                        self._done.add(digest)
                        return False, None
                    if not self.write:  # a dry run counts the bytes as new once, writes nothing
                        self._done.add(digest)
                        return True, None
                    event = self._pending[digest] = threading.Event()
                    return True, event
            waiting.wait()

    def _release(self, digest: str, event: threading.Event, stored: bool) -> None:
        """Wake the threads waiting for this blob; after a failure one of them tries again."""
        with self._lock:
            self._pending.pop(digest, None)
            if stored:
                self._done.add(digest)
        event.set()

    @staticmethod
    def _present(final: str, size: int) -> bool:
        try:
            return os.stat(final).st_size == size
        except OSError:
            return False

    def _store(self, path: str, data: bytes | None, digest: str, final: str) -> None:
        folder = os.path.dirname(final)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        tmp = os.path.join(folder, temp_name(digest))
        try:
            if data is not None:
                _write_new(tmp, data)
            else:
                with open(tmp, "xb") as out, open(path, "rb") as source:
                    copy_source(source, out, Path(path), digest)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def flush(self) -> None:
        """Make the blobs written so far durable (one sync instead of one fsync per blob).

        Always when writing: reader processes may have written blobs this object never saw.
        """
        if self.write:
            os.sync()


def _write_new(path: str, data: bytes) -> None:
    """Create a new file with ``data`` (plain syscalls: a file object costs more than the bytes here)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _hash_large(path: str) -> tuple[str, int]:
    try:
        return hash_file(Path(path))
    except OSError as error:
        raise ImportFailure(f"{path}: cannot read this artifact ({error.strerror}).") from None
