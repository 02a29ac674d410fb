"""Content-addressed blob store on any fsspec filesystem (``s3://``, ``gcs://``, ``memory://``...).

Same layout and contract as :class:`~sqltrack.artifacts.cas.BlobStore` (see
:class:`~sqltrack.artifacts.protocol.BlobBackend`): blobs are written to a temp key in
the blob's own folder, then moved onto the final key, and every read is verified.
On object stores a move is a server-side copy plus a delete, so the final key still only
ever holds a complete blob. Durability (fsync) is up to the filesystem. ``fsspec`` is
imported only when a store is created.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqltrack.artifacts.cas import (
    TEMP_PREFIX,
    ContentWriter,
    check_bytes,
    check_digest,
    is_blob_name,
    not_found,
    read_error,
    save_stream,
    temp_name,
    verifying_reader,
    write_error,
)
from sqltrack.artifacts.protocol import BlobInfo
from sqltrack.errors import SqltrackError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["FsspecBlobStore"]


class FsspecBlobStore(ContentWriter):
    """SHA-256 content-addressed blobs under a folder of an fsspec filesystem."""

    def __init__(
        self, url: str, *, fs: AbstractFileSystem | None = None, **storage_options: Any
    ) -> None:
        """Open the store at ``url`` (or at path ``url`` on an existing ``fs``); creates nothing."""
        if fs is None:
            import fsspec  # lazy: only users of remote stores pay for it

            fs, root = fsspec.core.url_to_fs(url, **storage_options)
        else:
            root = fs._strip_protocol(url)
        self.fs: AbstractFileSystem = fs
        self.url = url
        self.root = root.rstrip("/") or "/"

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.url!r})"

    def blob_key(self, digest: str) -> str:
        """Return the filesystem path of the blob with this digest."""
        digest = check_digest(digest)
        return posixpath.join(self.root, "sha256", digest[:2], digest)

    # -- writing -------------------------------------------------------------------------

    def _has_intact(self, digest: str, size: int) -> bool:
        """Whether the blob exists with the right size; a hit refreshes its mtime if possible."""
        key = self.blob_key(digest)
        try:
            if self.fs.size(key) != size:
                return False
        except OSError:
            return False
        try:
            self.fs.touch(key, truncate=False)
        except (OSError, NotImplementedError, ValueError):
            pass  # object stores cannot touch; see BlobBackend "Deduplication"
        return True

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write a blob to a temp key in its folder, then move it onto the final key."""
        final = self.blob_key(digest)
        tmp = posixpath.join(posixpath.dirname(final), temp_name(digest))
        try:
            self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
            with self.fs.open(tmp, "wb") as out:
                fill(out)
            self.fs.mv(tmp, final)
        except BaseException as exc:
            self._discard(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, SqltrackError):
                raise write_error(exc, self.url) from exc
            raise

    def _discard(self, key: str) -> None:
        """Remove a temp key after a failed write, never masking the original error."""
        try:
            if self.fs.exists(key):
                self.fs.rm_file(key)
        except OSError:
            pass  # clean_temp_files() removes it later

    # -- reading -------------------------------------------------------------------------

    def open(self, digest: str, *, context: str = "") -> BinaryIO:
        """Open a blob for streaming; reading it to the end verifies its digest."""
        digest = check_digest(digest)
        key = self.blob_key(digest)
        try:
            raw = self.fs.open(key, "rb")
        except OSError as exc:
            raise self._read_failure(exc, key, digest, context) from exc
        return verifying_reader(raw, digest, self._show(key), context)

    def read_bytes(self, digest: str, *, context: str = "") -> bytes:
        """Return a blob's bytes after checking them against the digest."""
        digest = check_digest(digest)
        key = self.blob_key(digest)
        try:
            data = self.fs.cat_file(key)
        except OSError as exc:
            raise self._read_failure(exc, key, digest, context) from exc
        check_bytes(data, digest, self._show(key), context)
        return data

    def copy_to(self, digest: str, dest: Path, context: str = "") -> None:
        """Download a blob to local ``dest`` via a temp file beside it, verified first."""
        with self.open(digest, context=context) as src:
            save_stream(src, Path(dest))

    def exists(self, digest: str) -> bool:
        """Whether a complete blob with this digest is present (not verified)."""
        return self.fs.isfile(self.blob_key(digest))

    def _read_failure(self, exc: OSError, key: str, digest: str, context: str) -> SqltrackError:
        """Map an error opening a blob: missing is ArtifactNotFound, anything else StoreError."""
        if isinstance(exc, FileNotFoundError):
            return not_found(digest, self.url, context)
        return read_error(exc, self._show(key), context)

    def _show(self, key: str) -> str:
        """Render a key with its protocol, for messages."""
        return self.fs.unstrip_protocol(key)

    # -- housekeeping --------------------------------------------------------------------

    def _files(self) -> dict[str, dict[str, Any]]:
        """Map every file under ``<root>/sha256`` to its info (empty if none)."""
        base = posixpath.join(self.root, "sha256")
        try:
            return self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every complete blob, in sorted order; temp keys are skipped."""
        for key in sorted(self._files()):
            name, fan_out = posixpath.basename(key), posixpath.basename(posixpath.dirname(key))
            if is_blob_name(name, fan_out):
                yield name

    def delete(self, digest: str) -> bool:
        """Remove a blob; return whether it existed."""
        key = self.blob_key(digest)
        try:
            if not self.fs.isfile(key):
                return False
            self.fs.rm_file(key)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise write_error(exc, self.url) from exc
        return True

    def blob_info(self, digest: str) -> BlobInfo | None:
        """Size and modification time of a blob (None when the filesystem cannot tell), or None if absent."""
        key = self.blob_key(digest)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        modified = self._mtime(key)
        return BlobInfo(int(info.get("size") or 0), None if modified == float("inf") else modified)

    def size_on_disk(self) -> int:
        """Total bytes held by complete blobs (temp leftovers are not counted)."""
        return sum(
            int(info.get("size") or 0)
            for key, info in self._files().items()
            if is_blob_name(posixpath.basename(key), posixpath.basename(posixpath.dirname(key)))
        )

    def clean_temp_files(self, older_than_s: float = 3600) -> int:
        """Remove temp keys older than ``older_than_s`` seconds; return how many.

        Keys whose age the filesystem cannot report are kept, to spare live writes.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for key in sorted(self._files()):
            if posixpath.basename(key).startswith(TEMP_PREFIX) and self._mtime(key) <= cutoff:
                removed += self._remove(key)
        return removed

    def _mtime(self, key: str) -> float:
        """Return a key's modification time as a Unix timestamp, or +inf if unknown."""
        try:
            return self.fs.modified(key).timestamp()
        except (OSError, NotImplementedError):
            return float("inf")

    def _remove(self, key: str) -> int:
        """Remove one key, returning 1, or 0 if it was already gone."""
        try:
            self.fs.rm_file(key)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise write_error(exc, self.url) from exc
        return 1
