"""Validation of logical artifact paths, and their safe mapping onto local folders.

A *logical* artifact path names an artifact inside a run, the way a user writes it:
``model/model.pkl``, ``plots``, or ``None``/``""`` for the run's root. It is always POSIX
(``/``-separated) whatever the OS, and it must never be able to name anything outside the
run, nor outside a download folder once joined onto one.

Limits (shared with the ``artifacts.path`` column, VARCHAR(700)):

* at most :data:`MAX_PATH_CHARS` (700) characters in the whole canonical path;
* at most :data:`MAX_SEGMENT_BYTES` (255) bytes of UTF-8 per segment, the name limit of
  common filesystems (ext4, APFS, NTFS), so every valid path can also be downloaded.
  For ASCII names this is 255 characters.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from sqltrack.errors import InvalidArtifactPath

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_SEGMENT_BYTES",
    "normalize_artifact_path",
    "safe_destination",
]

MAX_PATH_CHARS = 700
MAX_SEGMENT_BYTES = 255

_DRIVE = re.compile(r"^[A-Za-z]:")
_ONLY_DOTS_AND_SPACES = re.compile(r"^[. ]+$")
_FIX = "Use a relative path made of plain names separated by '/', such as 'model/model.pkl'."


def normalize_artifact_path(path: str | None, *, allow_root: bool = True) -> str:
    """Return the canonical form of a user's logical artifact path, refusing unsafe ones.

    The result has no leading or trailing ``/`` and no ``.`` segments; ``""`` is the root.

    Args:
        path: the path as given; ``None`` or ``""`` (also ``"."``, ``"./"``) means the root.
        allow_root: whether the root is acceptable (it is not where a file must be named).

    Raises:
        InvalidArtifactPath: the path is absolute, contains ``..``, a backslash, a control
            character, an empty or dots/spaces-only segment, or is too long.
    """
    if path is None:
        path = ""
    if not isinstance(path, str):
        raise InvalidArtifactPath(
            f"Artifact path {path!r:.80} is a {type(path).__name__}, not a string. {_FIX}"
        )
    if len(path) > 4 * MAX_PATH_CHARS:  # refuse huge inputs before scanning them
        _check_length(path, path)
    _check_not_absolute(path)
    _check_characters(path)
    segments = [_check_segment(path, s) for s in _split(path)]
    canonical = "/".join(s for s in segments if s != ".")
    _check_length(path, canonical)
    if not canonical and not allow_root:
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} names the run's root folder, but a file path is "
            f"needed here. {_FIX}"
        )
    return canonical


def safe_destination(root: Path, logical: str) -> Path:
    """Join a logical artifact path under a local folder, refusing any escape from it.

    The logical path is validated first; then the joined path is resolved (following
    symlinks that already exist on disk) and must still lie inside ``root``, so a
    symlink planted in the destination cannot redirect a download elsewhere.

    Raises:
        InvalidArtifactPath: the path is invalid or resolves outside ``root``.
    """
    canonical = normalize_artifact_path(logical)
    root = Path(root)
    dest = root.joinpath(*canonical.split("/")) if canonical else root
    real_root = root.resolve()
    real_dest = dest.resolve()
    if real_dest != real_root and not real_dest.is_relative_to(real_root):
        raise InvalidArtifactPath(
            f"Artifact path {_show(logical)} would be written to {real_dest}, outside the "
            f"destination folder {real_root}, because a symlink inside the destination "
            f"points elsewhere. Remove that symlink or download into an empty folder."
        )
    return dest


def _show(path: str) -> str:
    """Quote a path for a message, shortened so a huge input cannot flood the log."""
    return repr(path) if len(path) <= 80 else repr(path[:60]) + f"... ({len(path)} chars)"


def _split(path: str) -> list[str]:
    """Split on '/', tolerating one trailing slash ('plots/' is the folder 'plots')."""
    if path == "":
        return []
    segments = path.split("/")
    if len(segments) > 1 and segments[-1] == "":
        segments.pop()
    return segments


def _check_characters(path: str) -> None:
    """Refuse control characters (NUL included) and backslashes anywhere in the path."""
    for index, char in enumerate(path):
        if unicodedata.category(char) == "Cc":
            raise InvalidArtifactPath(
                f"Artifact path {_show(path)} contains the control character {char!r} at "
                f"position {index}. Remove it. {_FIX}"
            )
    if "\\" in path:
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} contains a backslash; artifact paths always use '/' "
            f"between folders, on every OS. {_FIX}"
        )


def _check_not_absolute(path: str) -> None:
    """Refuse POSIX-absolute, Windows drive, UNC and root-relative paths."""
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} is absolute (or starts with a Windows drive); "
            f"artifact paths are relative to their run. {_FIX}"
        )


def _check_segment(path: str, segment: str) -> str:
    """Return one segment if it is a plain name (or '.'), else refuse the whole path."""
    if segment == ".":
        return segment
    if segment == "":
        why = "an empty segment ('//')"
    elif segment == "..":
        why = "a '..' segment, which would leave its folder"
    elif _ONLY_DOTS_AND_SPACES.match(segment):
        why = f"the segment {segment!r}, made only of dots and spaces"
    elif _DRIVE.match(segment):
        why = f"the segment {segment!r}, which Windows reads as a drive"
    else:
        _check_segment_length(path, segment)
        return segment
    raise InvalidArtifactPath(f"Artifact path {_show(path)} contains {why}. {_FIX}")


def _check_segment_length(path: str, segment: str) -> None:
    """Refuse a segment over MAX_SEGMENT_BYTES of UTF-8, or not encodable at all."""
    try:
        size = len(segment.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} is not valid Unicode (it has a lone surrogate). "
            f"Pass the name as proper text."
        ) from None
    if size > MAX_SEGMENT_BYTES:
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} has a segment of {size} bytes "
            f"({segment[:20]!r}...); the limit is {MAX_SEGMENT_BYTES} bytes of UTF-8 "
            f"per folder or file name. Shorten that name."
        )


def _check_length(path: str, canonical: str) -> None:
    """Refuse a canonical path longer than MAX_PATH_CHARS characters."""
    if len(canonical) > MAX_PATH_CHARS:
        raise InvalidArtifactPath(
            f"Artifact path {_show(path)} is {len(canonical)} characters long; the "
            f"limit is {MAX_PATH_CHARS}. Use shorter folder or file names."
        )
