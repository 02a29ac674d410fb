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
    """The commit checked out in the git repository holding ``start``, read without running git."""
    for folder in (start, *start.parents):
        head = folder / ".git" / "HEAD"
        if head.is_file():
            try:
                text = head.read_text().strip()
                if not text.startswith("ref: "):
                    return text or None
                ref = folder / ".git" / text[5:]
                return ref.read_text().strip() if ref.is_file() else None
            except OSError:
                return None
    return None


def default_run_tags() -> dict[str, str]:
    """mlflow.user, mlflow.source.name/type and mlflow.source.git.commit when known."""
    source = _source_name()
    tags = {"mlflow.user": _user(), "mlflow.source.name": source, "mlflow.source.type": "LOCAL"}
    commit = _git_commit(Path(source).parent if source != "<interactive>" else Path(os.getcwd()))
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags
