"""The forked reader processes of a big import yield the CPU to the process that writes."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import pytest

import sqltrack
from sqltrack.mlruns import parallel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from mlruns_gen import generate_tree  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads thread priorities from /proc (Linux only)")


def _thread_niceness(pid: int) -> list[int]:
    """The niceness of every thread of a process (Linux keeps one per thread)."""
    values = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        values.append(int(stat.rsplit(")", 1)[1].split()[16]))  # field 19, counted after "pid (comm)"
    return values


def test_readers_run_at_a_lower_priority_than_the_writer(tmp_path):
    tree = tmp_path / "mlruns"
    generate_tree(tree, parallel.PROCESS_MIN_RUNS + 50, params=2, metrics=2, steps=2, tags=1, artifact=False)
    writer = os.getpriority(os.PRIO_PROCESS, 0)
    earlier = {child.pid for child in multiprocessing.active_children()}  # not this import's readers
    seen: dict[int, list[int]] = {}

    def look(done: int, total: int) -> None:
        for child in multiprocessing.active_children():
            if child.pid in earlier:
                continue
            try:
                seen[child.pid] = _thread_niceness(child.pid)
            except (FileNotFoundError, ProcessLookupError):  # the reader ended meanwhile
                pass

    summary = sqltrack.import_mlruns(tree, tmp_path / "s.db", processes=2, progress=look)

    assert summary.runs_imported == parallel.PROCESS_MIN_RUNS + 50
    assert len(seen) == 2, "the import should have read through two forked processes"
    want = min(19, writer + parallel.READER_NICENESS)
    assert all(n == want for threads in seen.values() for n in threads), (writer, seen)
    assert os.getpriority(os.PRIO_PROCESS, 0) == writer  # the importing process keeps its own
