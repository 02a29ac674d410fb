"""The tracking store: tables, engine, schema management and the operations on runs."""

from __future__ import annotations

import os

from .core import Store


def open_store(uri: str | os.PathLike | None = None, *, artifact_root: str | os.PathLike | None = None,
               read_only: bool = False) -> Store:
    """Open (creating or upgrading as needed) the store at ``uri``; see ``sqltrack.config``."""
    from ..config import resolve

    location = resolve(uri, artifact_root)
    return Store(location.url, location.artifact_root, read_only=read_only)


__all__ = ["Store", "open_store"]
