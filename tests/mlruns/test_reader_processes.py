"""The forked reader processes of a big import yield the CPU to the process that writes, and
read in their own thread while the files come from the page cache."""

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


def _thread_stats(pid: int) -> dict[int, list[str]]:
    """Each thread's /proc stat fields after "pid (comm)" (field 3 first), by thread id."""
    return {int(task.name): (task / "stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{pid}/task").iterdir()}


def _watch_readers(record):
    """A progress callback that records ``record(pid)`` for each reader process this import started."""
    earlier = {child.pid for child in multiprocessing.active_children()}  # not this import's readers
    seen: dict = {}

    def look(done: int, total: int) -> None:
        for child in multiprocessing.active_children():
            if child.pid not in earlier:
                try:
                    seen[child.pid] = record(child.pid)
                except (FileNotFoundError, ProcessLookupError):  # the reader ended meanwhile
                    pass

    return look, seen


def _thread_niceness(pid: int) -> list[int]:
    """The niceness of every thread of a process (Linux keeps one per thread): field 19."""
    return [int(fields[16]) for fields in _thread_stats(pid).values()]


def _cpu_ticks(pid: int) -> dict[int, int]:
    """User + system CPU ticks of every thread of a process, by thread id: fields 14 and 15."""
    return {tid: int(fields[11]) + int(fields[12]) for tid, fields in _thread_stats(pid).items()}


def test_readers_run_at_a_lower_priority_than_the_writer(tmp_path):
    tree = tmp_path / "mlruns"
    generate_tree(tree, parallel.PROCESS_MIN_RUNS + 50, params=2, metrics=2, steps=2, tags=1, artifact=False)
    writer = os.getpriority(os.PRIO_PROCESS, 0)
    look, seen = _watch_readers(_thread_niceness)

    summary = sqltrack.import_mlruns(tree, tmp_path / "s.db", processes=2, progress=look)

    assert summary.runs_imported == parallel.PROCESS_MIN_RUNS + 50
    assert len(seen) == 2, "the import should have read through two forked processes"
    want = min(19, writer + parallel.READER_NICENESS)
    assert all(n == want for threads in seen.values() for n in threads), (writer, seen)
    assert os.getpriority(os.PRIO_PROCESS, 0) == writer  # the importing process keeps its own


def test_readers_read_in_their_own_thread_while_the_files_are_cached(tmp_path):
    """Threads overlap reads that wait for the disk; from the page cache they only pass the GIL
    around. A reader uses its threads for its first chunk and for any chunk after one that read
    from the disk (there is no disk read here), else reads in its own, main thread."""
    tree = tmp_path / "mlruns"  # runs with long metric histories: each reader parses for ~0.3 s
    generate_tree(tree, parallel.PROCESS_MIN_RUNS + 50, params=2, metrics=10, steps=100, tags=1, artifact=False)
    for path in tree.rglob("*"):
        if path.is_file():
            path.read_bytes()
    look, seen = _watch_readers(_cpu_ticks)

    summary = sqltrack.import_mlruns(tree, tmp_path / "s.db", processes=2, progress=look)

    assert summary.runs_imported == parallel.PROCESS_MIN_RUNS + 50 and len(seen) == 2
    for pid, ticks in seen.items():
        others = sum(t for tid, t in ticks.items() if tid != pid)
        assert ticks[pid] > others, f"reader {pid}: main thread {ticks[pid]} ticks, its threads {others}"
