"""An interrupted import never leaves half a run, and importing again finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sqltrack
from sqltrack.store import open_store

from ._compare import store_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from mlruns_gen import generate_tree  # noqa: E402


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory) -> Path:
    """Enough runs for several commit groups and for the reader processes to start."""
    root = tmp_path_factory.mktemp("atomic") / "mlruns"
    generate_tree(root, 700, experiments=2, params=4, metrics=3, steps=4, tags=2)
    return root


@pytest.fixture(scope="module")
def reference(big_tree, tmp_path_factory) -> dict:
    """Every run as a complete import stores it."""
    store = open_store(tmp_path_factory.mktemp("reference") / "ref.db")
    sqltrack.import_mlruns(big_tree, store)
    state = store_state(store)[1]
    store.close()
    return state


def _assert_only_complete_runs(store, reference: dict) -> int:
    runs = store_state(store)[1]
    for rid, (content, row) in runs.items():
        want_content, want_row = reference[rid]
        assert content.params == want_content.params and content.points == want_content.points
        assert content.tags == want_content.tags and content.artifacts.keys() == want_content.artifacts.keys()
        assert row == want_row
    return len(runs)


def test_ctrl_c_during_import_keeps_whole_runs_only(big_tree, reference, tmp_path):
    store = open_store(tmp_path / "s.db")

    def interrupt(done: int, total: int) -> None:
        if done >= 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sqltrack.import_mlruns(big_tree, store, progress=interrupt)
    kept = _assert_only_complete_runs(store, reference)
    assert 0 < kept < len(reference)
    summary = sqltrack.import_mlruns(big_tree, store)
    assert summary.runs_unchanged == kept and summary.runs_imported == len(reference) - kept
    assert store_state(store)[1] == reference
    store.close()


def test_killed_import_keeps_whole_runs_only(big_tree, reference, tmp_path):
    db = tmp_path / "s.db"
    script = textwrap.dedent(f"""
        import sys, sqltrack
        def show(done, total):
            print(done, flush=True)
        sqltrack.import_mlruns({str(big_tree)!r}, {str(db)!r}, progress=show)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    for line in child.stdout:
        if int(line) >= 260:  # some groups are committed, more are being written
            break
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    store = open_store(db)
    kept = _assert_only_complete_runs(store, reference)
    assert kept >= 256
    summary = sqltrack.import_mlruns(big_tree, store)
    assert summary.runs_failed == 0 and summary.runs_unchanged + summary.runs_imported == len(reference)
    assert store_state(store)[1] == reference
    store.close()
