"""Safe, bounded access to the files of an mlruns tree.

Every file is reached by walking down from the tree's root; a symlink is followed only
when its target stays inside the tree (or inside a folder the caller allowed), and a
file is read only if it is a regular file no bigger than its limit. A sparse file
(a huge size over a few allocated blocks) is refused with its name.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Iterator

from ..errors import ImportFailure

#: Limits per kind of file (bytes).
MAX_VALUE_FILE = 4 << 20  # a param or tag value (sqltrack allows 1,000,000 characters)
MAX_METRIC_FILE = 256 << 20  # about 8 million points
MAX_META_FILE = 1 << 20
_SPARSE_MIN = 1 << 20
_MAX_DEPTH = 64


@dataclass(frozen=True)
class TreeGuard:
    """The folders that reads may reach (real paths), and how to check a symlink against them."""

    roots: tuple[str, ...]

    @classmethod
    def for_root(cls, root: str | os.PathLike, *extra: str | os.PathLike) -> "TreeGuard":
        """A guard for the tree at ``root`` (and any extra allowed folders)."""
        return cls(tuple(os.path.realpath(p) for p in (root, *extra)))

    def inside(self, real: str) -> bool:
        """Whether a real path lies in one of the allowed folders."""
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots)

    def follow(self, path: str) -> str:
        """The real path of a symlink, or ImportFailure if it leads outside the tree."""
        real = os.path.realpath(path)
        if not self.inside(real):
            raise ImportFailure(f"{path}: a symlink to {real}, outside the tree {self.roots[0]}; "
                                "it is not followed. Copy the file into the tree, or remove the link.")
        return real


def read_file(path: str, limit: int, what: str) -> bytes:
    """The bytes of a regular file, refusing anything over ``limit`` or sparse."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise ImportFailure(f"{path}: cannot open this {what} file ({error.strerror}).") from None
    try:
        info = os.fstat(fd)
        check_regular(path, info, limit, what)
        data = _read_all(fd, min(info.st_size, limit) + 1, limit)
    except OSError as error:
        raise ImportFailure(f"{path}: cannot read this {what} file ({error.strerror}).") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ImportFailure(f"{path}: this {what} file grew past {limit:,} bytes while it was read.")
    return data


def _read_all(fd: int, first: int, limit: int) -> bytes:
    """Read to EOF (one call when the size from fstat is right), at most ``limit + 1`` bytes."""
    data = os.read(fd, first)
    if len(data) < first:
        return data
    chunks, left = [data], limit + 1 - len(data)
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_regular(path: str, info: os.stat_result, limit: int | None, what: str) -> None:
    """Refuse non-regular files, files over ``limit`` and sparse files."""
    if not stat.S_ISREG(info.st_mode):
        raise ImportFailure(f"{path}: expected a regular {what} file, found a special file; it is not read.")
    if limit is not None and info.st_size > limit:
        raise ImportFailure(f"{path}: this {what} file is {info.st_size:,} bytes; the limit is {limit:,}. "
                            "It is not an MLflow file of that kind (or it is damaged).")
    if info.st_size > _SPARSE_MIN and getattr(info, "st_blocks", None) is not None \
            and info.st_blocks * 512 < info.st_size // 8:
        raise ImportFailure(f"{path}: a sparse file claiming {info.st_size:,} bytes on only "
                            f"{info.st_blocks * 512:,} bytes of disk; refused, since MLflow never writes those.")


def walk_files(guard: TreeGuard, top: str) -> Iterator[tuple[str, str]]:
    """Yield ``(relative POSIX path, path)`` of every file below ``top``, checking symlinks."""
    yield from _walk(guard, top, "", 0, ())


def _walk(guard: TreeGuard, folder: str, prefix: str, depth: int, seen: tuple[str, ...]):
    if depth > _MAX_DEPTH:
        raise ImportFailure(f"{folder}: folders nest more than {_MAX_DEPTH} levels deep; refused.")
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as error:
        raise ImportFailure(f"{folder}: cannot list this folder ({error.strerror}).") from None
    for entry in entries:
        rel = prefix + entry.name
        if entry.is_symlink():
            real = guard.follow(entry.path)
            if os.path.isdir(real):
                # a linked folder inside one of its own ancestors would loop forever
                if real in seen or os.path.realpath(folder).startswith(real.rstrip(os.sep) + os.sep):
                    raise ImportFailure(f"{entry.path}: a symlink loop back to {real}; refused.")
                yield from _walk(guard, entry.path, rel + "/", depth + 1, seen + (real,))
            else:
                yield rel, entry.path
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(guard, entry.path, rel + "/", depth + 1, seen)
        else:
            yield rel, entry.path


def list_dirs(folder: str) -> list[os.DirEntry]:
    """The sub-folders of a folder (symlinked ones included), sorted by name; none if it is missing."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    except OSError as error:
        raise ImportFailure(f"{folder}: cannot list this folder ({error.strerror}).") from None
    return sorted((e for e in entries if e.is_dir()), key=lambda e: e.name)
