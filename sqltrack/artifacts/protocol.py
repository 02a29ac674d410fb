"""The contract every artifact blob backend keeps (local folder today, fsspec/S3 later)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, Protocol, runtime_checkable

__all__ = ["BlobBackend", "BlobInfo"]


class BlobInfo(NamedTuple):
    """Size and age of a stored blob."""

    size: int
    modified: float | None  # Unix time of its last write or refresh; None where the storage cannot tell


@runtime_checkable
class BlobBackend(Protocol):
    """A content-addressed store of immutable blobs named by their SHA-256 digest.

    Layout:
        ``<root>/sha256/<first 2 hex>/<64 lowercase hex digest>``. Digests are accepted in
        any case and returned in lowercase; anything else raises ``InvalidParameter``.

    Atomicity:
        A blob appears under its final name only complete. Writers write a temp name in
        the blob's own folder (``.tmp-<digest>-<pid>-<random>``), flush it, then rename
        it onto the final name. Readers, ``exists`` and ``iter_digests`` ignore temp
        names. A writer that dies leaves at most a temp file, which
        ``clean_temp_files`` removes once it is old enough not to belong to a live write.

    Deduplication:
        ``put_*`` of bytes already stored writes nothing (a blob of the wrong size is
        rewritten, which repairs truncation). Two writers of the same bytes may both
        write; the last rename wins and both copies are identical. A ``put_*`` that
        finds its blob present refreshes the blob's modification time where the
        filesystem allows (not on object stores), so a garbage collector that spares
        blobs younger than a grace period never deletes one a writer is about to index.

    Verification:
        Every read checks the bytes against the digest: ``read_bytes`` and ``copy_to``
        before returning, ``open`` when the stream reaches its end (a caller that stops
        early gets no check). A mismatch or truncation raises ``ArtifactIntegrityError``
        naming the blob, the caller's ``context`` (e.g. ``"run abc, path model.pkl"``)
        and how to recover. ``copy_to`` never leaves unverified bytes at ``dest``.

    Errors:
        Missing blob: ``ArtifactNotFound``. Disk full: ``StoreFull``. No write access or
        read-only filesystem: ``StoreReadOnly``. Other storage failures: ``StoreError``.
        A backend creates nothing until its first write, so a read-only store can be read.

    Thread-safety:
        Implementations hold no mutable state of their own: one instance may be shared by
        threads, and several processes may use the same root at once. ``delete`` is the
        exception to coordinate: it must only be called for blobs that no index row (in any
        process) still refers to, and it may race with a concurrent ``put`` of the same
        bytes; callers garbage-collect under their own lock or with a grace period.
    """

    def put_file(self, src: Path) -> tuple[str, int]:
        """Store a local file's bytes; return ``(digest, size)``."""
        ...

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; return ``(digest, size)``."""
        ...

    def open(self, digest: str, *, context: str = "") -> BinaryIO:
        """Open a blob for streaming reads, verified at end of stream."""
        ...

    def read_bytes(self, digest: str, *, context: str = "") -> bytes:
        """Return a blob's verified bytes."""
        ...

    def copy_to(self, digest: str, dest: Path, context: str = "") -> None:
        """Write a blob to a local file, verified before it replaces ``dest``."""
        ...

    def exists(self, digest: str) -> bool:
        """Whether a complete blob with this digest is stored (contents not checked)."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Yield the digests of all complete blobs."""
        ...

    def delete(self, digest: str) -> bool:
        """Remove a blob; return whether it existed."""
        ...

    def blob_info(self, digest: str) -> BlobInfo | None:
        """Size and modification time of a complete blob, or None if it is not stored.

        A garbage collector spares blobs younger than its grace period, and blobs whose
        age is unknown (``modified`` is None).
        """
        ...

    def size_on_disk(self) -> int:
        """Total bytes of complete blobs."""
        ...

    def clean_temp_files(self, older_than_s: float = 3600) -> int:
        """Remove temp files older than ``older_than_s`` seconds; return how many."""
        ...
