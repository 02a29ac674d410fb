"""System tags that tell MLflow users where a run came from (user, source, git commit)."""

from __future__ import annotations

import functools
import getpass
import os
import sys
from pathlib import Path


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _source_name() -> str:
    main = sys.argv[0] if sys.argv and sys.argv[0] else ""
    return str(Path(main).absolute()) if main and main not in ("-c", "-m") else "<interactive>"


def _git_commit(start: Path) -> str | None:
    """The commit checked out in the git repository holding ``start``, read without running git.

    Follows what git itself reads: ``.git`` as a folder, or as a file pointing at one (a
    worktree, a submodule); HEAD detached or naming a branch; the branch as a loose ref or,
    after ``git gc``/``pack-refs`` and in fresh clones, in ``packed-refs``.
    """
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.exists():
            try:
                return _head_commit(_git_dir(dot_git))
            except (OSError, UnicodeDecodeError):
                return None
    return None


def _git_dir(dot_git: Path) -> Path:
    if dot_git.is_dir():
        return dot_git
    text = dot_git.read_text().strip()  # "gitdir: <path>", relative to the folder holding it
    return (dot_git.parent / text.removeprefix("gitdir:").strip()).resolve()


def _head_commit(git_dir: Path) -> str | None:
    head = (git_dir / "HEAD").read_text().strip()
    if not head.startswith("ref: "):
        return head or None
    ref = head[5:].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():  # a worktree: branches live in the main repository
        common = (git_dir / (git_dir / "commondir").read_text().strip()).resolve()
    for folder in dict.fromkeys((git_dir, common)):
        loose = folder / ref
        if loose.is_file():
            return loose.read_text().strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and not line.startswith(("#", "^")):
                return sha
    return None  # a branch with no commit yet


def default_run_tags() -> dict[str, str]:
    """mlflow.user, mlflow.source.name/type and mlflow.source.git.commit when known."""
    source = _source_name()
    tags = {"mlflow.user": _user(), "mlflow.source.name": source, "mlflow.source.type": "LOCAL"}
    commit = _git_commit(Path(source).parent if source != "<interactive>" else Path(os.getcwd()))
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags
