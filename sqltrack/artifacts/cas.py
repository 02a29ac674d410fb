"""Content-addressed blob store on a local (or locally mounted) folder.

Layout: ``<root>/sha256/<first 2 hex>/<64-hex digest>``. A blob's name is the SHA-256 of
its bytes, so storing the same bytes twice keeps one file, and a reader can check what it
got. Writers put the bytes in ``.tmp-<digest>-<pid>-<random>`` *in the blob's own folder*,
fsync, then ``os.replace`` it onto the final name: readers never see a partial blob, and
concurrent writers of the same bytes simply replace one complete copy with another. The
contract is documented on :class:`sqltrack.artifacts.protocol.BlobBackend`.

The helpers at the bottom (digest checks, the verifying reader, error messages) are shared
with :mod:`sqltrack.artifacts.fsspec_store`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from sqltrack.artifacts.protocol import BlobInfo
from sqltrack.errors import (
    ArtifactIntegrityError,
    ArtifactNotFound,
    InvalidParameter,
    SqltrackError,
    StoreError,
    StoreFull,
    StoreReadOnly,
)

__all__ = ["CHUNK_SIZE", "TEMP_PREFIX", "BlobStore"]

CHUNK_SIZE = 1 << 20
TEMP_PREFIX = ".tmp-"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}
_MISSING_ERRNOS = {errno.ENOENT, errno.ENOTDIR}


class ContentWriter:
    """``put_bytes``/``put_file`` for a blob backend: hash first, write only a blob not already intact.

    A backend supplies ``_has_intact(digest, size)`` and ``_write(digest, fill)`` (atomic: the
    blob appears whole or not at all).
    """

    def _has_intact(self, digest: str, size: int) -> bool:
        raise NotImplementedError

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        raise NotImplementedError

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data`` and return ``(digest, size)``; a blob already present is kept."""
        digest = hashlib.sha256(data).hexdigest()
        if not self._has_intact(digest, len(data)):
            self._write(digest, lambda out: out.write(data))
        return digest, len(data)

    def put_file(self, src: Path) -> tuple[str, int]:
        """Store a local file's bytes and return ``(digest, size)``; hashes first, copies only if new.

        Raises:
            ArtifactIntegrityError: the file changed between hashing and copying.
            OSError: ``src`` cannot be read (missing, a folder, no permission).
        """
        digest, size = hash_file(src)
        if not self._has_intact(digest, size):
            with open(src, "rb") as source:
                self._write(digest, lambda out: copy_source(source, out, src, digest))
        return digest, size


class BlobStore(ContentWriter):
    """SHA-256 content-addressed blobs under one local folder; safe across threads and processes."""

    def __init__(self, root: Path | str) -> None:
        """Point at ``root``; nothing is created until the first write."""
        self.root = Path(root)
        self._sha256 = os.path.join(self.root, "sha256")

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    def blob_path(self, digest: str) -> Path:
        """Return where the blob with this digest lives (whether or not it exists)."""
        return Path(self.blob_file(digest))

    def blob_file(self, digest: str) -> str:
        """``blob_path`` as a string, for bulk work: building it with pathlib costs ~20 µs a file."""
        digest = check_digest(digest)
        return os.path.join(self._sha256, digest[:2], digest)

    # -- writing -------------------------------------------------------------------------

    def _has_intact(self, digest: str, size: int) -> bool:
        """Whether the blob exists with the right size (a truncated one gets rewritten).

        A hit also refreshes the blob's mtime, so a garbage collector with a grace period
        cannot delete a blob that this writer is about to reference.
        """
        path = self.blob_path(digest)
        try:
            if path.stat().st_size != size:
                return False
        except OSError:
            return False
        try:
            os.utime(path)
        except OSError:
            pass  # read-only store: nothing can collect it either
        return True

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write a blob via a same-folder temp file, fsync, and atomically rename it."""
        final = self.blob_path(digest)
        tmp = final.with_name(temp_name(digest))
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            _write_temp(tmp, fill)
            os.replace(tmp, final)
        except BaseException as exc:
            _discard(tmp)
            if isinstance(exc, OSError) and not isinstance(exc, SqltrackError):
                raise write_error(exc, self.root) from exc
            raise
        _fsync_dir(final.parent)

    # -- reading -------------------------------------------------------------------------

    def open(self, digest: str, *, context: str = "") -> BinaryIO:
        """Open a blob for streaming; reading it to the end verifies its digest.

        Raises:
            ArtifactNotFound: no such blob.
            ArtifactIntegrityError: (at end of stream) the bytes do not match the digest.
        """
        digest = check_digest(digest)
        path = self.blob_path(digest)
        raw = self._open_raw(path, digest, context)
        return verifying_reader(raw, digest, str(path), context)

    def read_bytes(self, digest: str, *, context: str = "") -> bytes:
        """Return a blob's bytes after checking them against the digest."""
        digest = check_digest(digest)
        path = self.blob_path(digest)
        with self._open_raw(path, digest, context) as raw:
            data = raw.read()
        check_bytes(data, digest, str(path), context)
        return data

    def copy_to(self, digest: str, dest: Path, context: str = "") -> None:
        """Copy a blob to ``dest`` via a temp file beside it, verified before the rename.

        ``dest`` is replaced atomically and never holds unverified bytes. Errors writing
        ``dest`` (a user's folder, not the store) are raised as plain ``OSError``.
        """
        with self.open(digest, context=context) as src:
            save_stream(src, Path(dest))

    def exists(self, digest: str) -> bool:
        """Whether a complete blob with this digest is present (not verified)."""
        return self.blob_path(digest).is_file()

    def _open_raw(self, path: Path, digest: str, context: str) -> BinaryIO:
        """Open a blob file unbuffered, mapping a missing file to ArtifactNotFound."""
        try:
            return open(path, "rb", buffering=0)
        except OSError as exc:
            if exc.errno in _MISSING_ERRNOS:
                raise not_found(digest, str(self.root), context) from exc
            raise read_error(exc, path, context) from exc

    # -- housekeeping --------------------------------------------------------------------

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every complete blob, in sorted order; temp files are skipped."""
        for fan_out in _sorted_entries(self.root / "sha256"):
            if fan_out.is_dir() and len(fan_out.name) == 2:
                for entry in _sorted_entries(fan_out):
                    if is_blob_name(entry.name, fan_out.name):
                        yield entry.name

    def delete(self, digest: str) -> bool:
        """Remove a blob; return whether it existed. Callers must know nothing refers to it."""
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise write_error(exc, self.root) from exc
        return True

    def blob_info(self, digest: str) -> BlobInfo | None:
        """Size and modification time of a blob, or None if it is not stored."""
        try:
            stat = self.blob_path(digest).stat()
        except FileNotFoundError:
            return None
        return BlobInfo(stat.st_size, stat.st_mtime)

    def size_on_disk(self) -> int:
        """Total bytes held by complete blobs (temp leftovers are not counted)."""
        return sum(_size(self.blob_path(d)) for d in self.iter_digests())

    def clean_temp_files(self, older_than_s: float = 3600) -> int:
        """Remove temp files left by killed writers, if older than ``older_than_s``; return count.

        The age guard protects writes still in progress in other processes.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for fan_out in _sorted_entries(self.root / "sha256"):
            for entry in _sorted_entries(fan_out):
                if entry.name.startswith(TEMP_PREFIX) and _mtime(entry) <= cutoff:
                    removed += _unlink_counting(entry, self.root)
        return removed


# -- helpers for this module ----------------------------------------------------------------


def _write_temp(tmp: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Create ``tmp`` exclusively, let ``fill`` write it, then flush and fsync it."""
    with open(tmp, "xb") as out:
        fill(out)
        out.flush()
        os.fsync(out.fileno())


def _discard(tmp: Path) -> None:
    """Remove a temp file after a failed write, never masking the original error."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass  # clean_temp_files() removes it later


def _write_chunks(out: BinaryIO, chunks: Iterable[bytes]) -> str:
    """Write chunks to ``out`` and return the SHA-256 of what was written."""
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(chunk)
        out.write(chunk)
    return sha.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable by fsyncing its folder, where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on folders; the rename itself is still atomic
    finally:
        os.close(fd)


def _sorted_entries(folder: Path) -> list[Path]:
    """List a folder's entries sorted by name, or nothing if it does not exist."""
    try:
        return sorted(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _size(path: Path) -> int:
    """Return a file's size, or 0 if it was deleted meanwhile."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path: Path) -> float:
    """Return a file's modification time, or +inf if it vanished meanwhile."""
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def _unlink_counting(path: Path, root: Path) -> int:
    """Remove one file, returning 1, or 0 if another cleaner got there first."""
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise write_error(exc, root) from exc
    return 1


# -- helpers shared with other backends -----------------------------------------------------


def save_stream(src: BinaryIO, dest: Path) -> None:
    """Stream ``src`` into a temp file beside ``dest``, fsync it, then rename it onto ``dest``.

    ``src`` is a verifying reader, so a corrupt blob raises before the rename and the
    temp file is removed: ``dest`` is untouched.
    """
    tmp = dest.with_name(f"{TEMP_PREFIX}{dest.name}-{os.getpid()}-{secrets.token_hex(4)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_temp(tmp, lambda out: _write_chunks(out, iter_chunks(src)))
        os.replace(tmp, dest)
    except BaseException:
        _discard(tmp)
        raise


def copy_source(source: BinaryIO, out: BinaryIO, src: Path, digest: str) -> None:
    """Copy a source file into a temp blob, refusing it if it changed since it was hashed."""
    copied = _write_chunks(out, iter_chunks(source))
    if copied != digest:
        raise ArtifactIntegrityError(
            f"The file {src} changed while it was being stored (its SHA-256 was {digest} "
            f"when hashed, then {copied} while copying); nothing was stored. Log it again "
            f"once whatever is writing it has finished."
        )


def check_digest(digest: str) -> str:
    """Return a digest in lowercase if it is 64 hex characters, else refuse it."""
    if isinstance(digest, str) and _DIGEST.fullmatch(digest.lower()):
        return digest.lower()
    raise InvalidParameter(
        f"{digest!r:.80} is not a SHA-256 digest; expected 64 hexadecimal characters, "
        f"as returned by put_file/put_bytes or stored in the artifacts table."
    )


def temp_name(digest: str) -> str:
    """Return a fresh temp file name for a blob; readers and listings ignore this pattern."""
    return f"{TEMP_PREFIX}{digest}-{os.getpid()}-{secrets.token_hex(6)}"


def is_blob_name(name: str, fan_out: str) -> bool:
    """Whether a file name in a fan-out folder is a complete blob (not a temp file)."""
    return name.startswith(fan_out) and _DIGEST.fullmatch(name) is not None


def hash_file(src: Path) -> tuple[str, int]:
    """Return the SHA-256 hex digest and byte count of a file, streaming it."""
    sha, size = hashlib.sha256(), 0
    with open(src, "rb") as f:
        for chunk in iter_chunks(f):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def iter_chunks(f: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a binary stream's contents in chunks until EOF."""
    while chunk := f.read(size):
        yield chunk


def check_bytes(data: bytes, digest: str, where: str, context: str) -> None:
    """Refuse bytes read from a blob unless they hash to its digest."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise corrupt(digest, actual, len(data), where, context)


def corrupt(
    digest: str, actual: str, size: int, where: str, context: str
) -> ArtifactIntegrityError:
    """Build the error for a blob whose bytes do not match its name."""
    about = f" ({context})" if context else ""
    return ArtifactIntegrityError(
        f"Artifact blob {where}{about} is corrupt: it should hash to sha256 {digest}, but "
        f"the {size} bytes read hash to {actual}, so it was modified or truncated after it "
        f"was stored. Delete that blob file and log the artifact again from its original "
        f"file (or restore the blob from a backup); until then the artifact cannot be read."
    )


def not_found(digest: str, root: str, context: str) -> ArtifactNotFound:
    """Build the error for a digest with no blob in the store."""
    about = f" ({context})" if context else ""
    return ArtifactNotFound(
        f"No blob sha256 {digest} in the artifact store {root}{about}. It was deleted, or "
        f"the artifact folder was moved away from its database; restore the folder or log "
        f"the artifact again."
    )


def write_error(exc: OSError, root: Path | str) -> StoreError:
    """Translate an OS error while writing the store into sqltrack's error tree."""
    if exc.errno in _FULL_ERRNOS:
        err: StoreError = StoreFull(
            f"Cannot store an artifact blob under {root}: {exc.strerror or exc}. Free "
            f"space on that disk, or move the artifact folder to a larger one (or lift the "
            f"quota or file-size limit that applies), then retry."
        )
    elif exc.errno in _READ_ONLY_ERRNOS:
        err = StoreReadOnly(
            f"Cannot write the artifact folder {root}: {exc.strerror or exc}. It is "
            f"read-only for this process; fix its permissions or mount, or open the store "
            f"read-only and only read artifacts."
        )
    else:
        err = StoreError(
            f"Cannot write the artifact folder {root}: {exc}. Check that it is a writable "
            f"folder and that nothing (such as a file) sits where its sub-folders go."
        )
    err.errno = exc.errno  # type: ignore[attr-defined]  # keeps `e.errno == ENOSPC` checks working
    return err


def read_error(exc: OSError, where: Path | str, context: str) -> StoreError:
    """Translate an OS error (other than not-found) while reading a blob."""
    about = f" ({context})" if context else ""
    return StoreError(f"Cannot read artifact blob {where}{about}: {exc}. Check its permissions.")


class _VerifyingRaw(io.RawIOBase):
    """A raw stream that hashes what passes through and checks the digest at EOF."""

    def __init__(self, raw: BinaryIO, digest: str, where: str, context: str) -> None:
        super().__init__()
        self._raw, self._digest, self._where, self._context = raw, digest, where, context
        self._sha = hashlib.sha256()
        self._size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` from the blob; at EOF, raise if the bytes did not match."""
        chunk = self._raw.read(len(buffer))
        if not chunk and len(buffer):
            self._verify()
            return 0
        buffer[: len(chunk)] = chunk
        self._sha.update(chunk)
        self._size += len(chunk)
        return len(chunk)

    def _verify(self) -> None:
        actual = self._sha.hexdigest()
        if actual != self._digest:
            raise corrupt(self._digest, actual, self._size, self._where, self._context)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def verifying_reader(raw: BinaryIO, digest: str, where: str, context: str) -> BinaryIO:
    """Wrap a raw blob stream so that reading it to the end verifies the digest."""
    return io.BufferedReader(_VerifyingRaw(raw, digest, where, context), CHUNK_SIZE)
