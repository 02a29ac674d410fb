"""Artifact storage: content-addressed blobs and validation of logical artifact paths.

Importing this package is cheap: ``fsspec`` is imported only when an
:class:`FsspecBlobStore` is created.
"""

from __future__ import annotations

from sqltrack.artifacts.cas import BlobStore
from sqltrack.artifacts.fsspec_store import FsspecBlobStore
from sqltrack.artifacts.paths import (
    MAX_PATH_CHARS,
    MAX_SEGMENT_BYTES,
    normalize_artifact_path,
    safe_destination,
)
from sqltrack.artifacts.protocol import BlobBackend

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_SEGMENT_BYTES",
    "BlobBackend",
    "BlobStore",
    "FsspecBlobStore",
    "normalize_artifact_path",
    "safe_destination",
]
