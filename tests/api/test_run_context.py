"""The git commit a run records (``mlflow.source.git.commit``), on real repositories made with git."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sqltrack.api.context import default_run_tags

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

COMMIT_TAG = "mlflow.source.git.commit"


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "HOME": str(repo), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository with one commit on branch main and a script in a subfolder."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "src" / "train.py").write_text("print('train')\n")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


def _commit_for(script: Path, monkeypatch) -> str | None:
    monkeypatch.setattr(sys, "argv", [str(script)])
    return default_run_tags().get(COMMIT_TAG)


def test_a_branch_stored_as_a_loose_ref(repo, monkeypatch):
    assert _commit_for(repo / "src" / "train.py", monkeypatch) == _git(repo, "rev-parse", "HEAD")


def test_a_branch_in_packed_refs_as_after_git_gc_or_in_a_fresh_clone(repo, monkeypatch):
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert _commit_for(repo / "src" / "train.py", monkeypatch) == _git(repo, "rev-parse", "HEAD")


def test_a_detached_head(repo, monkeypatch):
    first = _git(repo, "rev-parse", "HEAD")
    (repo / "src" / "train.py").write_text("print('second')\n")
    _git(repo, "commit", "-q", "-am", "second")
    _git(repo, "checkout", "-q", "--detach", first)
    assert _commit_for(repo / "src" / "train.py", monkeypatch) == first


def test_a_worktree_records_its_own_commit(repo, tmp_path, monkeypatch):
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "other", str(worktree))
    (worktree / "src" / "train.py").write_text("print('other')\n")
    _git(worktree, "commit", "-q", "-am", "on other")
    assert (worktree / ".git").is_file()
    commit = _commit_for(worktree / "src" / "train.py", monkeypatch)
    assert commit == _git(worktree, "rev-parse", "HEAD") != _git(repo, "rev-parse", "HEAD")
    _git(repo, "pack-refs", "--all")  # the worktree's branch now lives in the main repository's packed-refs
    assert _commit_for(worktree / "src" / "train.py", monkeypatch) == commit


def test_no_commit_yet_or_no_repository_records_no_tag(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    _git(empty, "init", "-q", "-b", "main")
    (empty / "train.py").write_text("")
    assert _commit_for(empty / "train.py", monkeypatch) is None
    outside = tmp_path / "plain" / "train.py"
    outside.parent.mkdir()
    outside.write_text("")
    if not any((folder / ".git").exists() for folder in outside.parents):
        assert _commit_for(outside, monkeypatch) is None


def test_a_script_run_in_a_fresh_clone_tags_its_runs_with_the_commit(repo, tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    _git(clone, "pack-refs", "--all")
    script = clone / "src" / "train.py"
    store = tmp_path / "s.db"
    script.write_text(f"import sqltrack as mlflow\nmlflow.set_tracking_uri({str(store)!r})\n"
                      "with mlflow.start_run() as run:\n    print(run.info.run_id)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    from sqltrack import Client

    client = Client(store)
    try:
        tags = client.get_run(done.stdout.split()[-1]).data.tags
    finally:
        client.close()
    assert tags[COMMIT_TAG] == _git(clone, "rev-parse", "HEAD")
