"""Reading the runs of a tree in parallel: worker processes for big trees, threads for small ones.

Parsing a run is CPU work in Python, so threads alone are held back by the GIL; for
big trees the runs are read by forked worker processes while the importing process writes
to the database. Each overlaps its file I/O with a few threads while its reads reach the
disk, and reads alone while the files come from the page cache. Results come back in the
order of the run folders. Where ``fork`` is not available, threads are used.

The readers run at a lower scheduling priority than the importing process: on a machine
with as many cores as readers, the one process that writes to the database is the import's
critical path, and it should not wait for a core while readers, already ahead of it, parse
more runs.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Iterator, Sequence

from ..errors import ImportFailure
from .pipeline import _guarded, read_all
from .reader import TreeContext, read_run
from .records import RunRecord

#: Below this many runs, starting processes costs more than it saves.
PROCESS_MIN_RUNS = 400
CHUNK_RUNS = 32
THREADS_PER_PROCESS = 4
#: How much lower the readers' priority is than the importing process's (Unix niceness).
READER_NICENESS = 5

Result = tuple[str, "RunRecord | ImportFailure"]
_CHILD: dict = {}


def read_runs(ctx: TreeContext, items: Sequence[tuple[int, str]], workers: int,
              processes: int) -> Iterator[Result]:
    """Yield ``(run folder, record or failure)`` for every ``(experiment id, run folder)``, in order.

    Worker processes are forked right here, before the caller opens any database connection,
    so no connection is ever inherited by a child.
    """
    if processes > 1 and len(items) >= PROCESS_MIN_RUNS and "fork" in multiprocessing.get_all_start_methods():
        return _ProcessReader(ctx, items, processes)
    tasks = [(folder, functools.partial(read_run, ctx, eid, folder)) for eid, folder in items]
    return read_all(tasks, workers)


class _ProcessReader:
    """Chunks of runs read by forked processes, with a bounded read-ahead, yielded in order."""

    def __init__(self, ctx: TreeContext, items: Sequence[tuple[int, str]], processes: int) -> None:
        chunks = [list(items[i:i + CHUNK_RUNS]) for i in range(0, len(items), CHUNK_RUNS)]
        self.pending = iter(chunks)
        self.ahead = processes * 4
        self.pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_start_child, initargs=(ctx,))
        self.window: deque = deque()
        self._fill()  # forks the workers now
        self._results = self._iterate()

    def _fill(self) -> None:
        for chunk in self.pending:
            self.window.append(self.pool.submit(_read_chunk, chunk))
            if len(self.window) >= self.ahead:
                break

    def _iterate(self) -> Iterator[Result]:
        try:
            while self.window:
                future = self.window.popleft()
                self._fill()
                yield from future.result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __iter__(self) -> "_ProcessReader":
        return self

    def __next__(self) -> Result:
        return next(self._results)

    def close(self) -> None:
        """Stop the workers (also when the results were never read)."""
        self._results.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _start_child(ctx: TreeContext) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    gc.disable()  # a reader makes many small acyclic objects and lives only as long as the import
    _yield_to_writer()
    _CHILD["ctx"] = ctx
    _CHILD["threads"] = ThreadPoolExecutor(THREADS_PER_PROCESS, thread_name_prefix="sqltrack-read")


def _yield_to_writer() -> None:
    """Lower this reader's priority (before its threads start: Linux sets niceness per thread
    and new threads inherit it). Where that is refused, the reader keeps the writer's priority."""
    try:
        os.nice(READER_NICENESS)
    except (AttributeError, OSError):
        pass


def _read_chunk(chunk: list[tuple[int, str]]) -> list[Result]:
    """Read a chunk with the threads while reads reach the disk, and in this thread alone while
    the files come from the page cache: there the threads only hand the GIL back and forth."""
    ctx, blocks = _CHILD["ctx"], _blocks_read()
    reads = [functools.partial(read_run, ctx, eid, folder) for eid, folder in chunk]
    if _CHILD.get("disk", True):
        jobs = [_CHILD["threads"].submit(_guarded, read) for read in reads]
        results = [job.result() for job in jobs]
    else:
        results = [_guarded(read) for read in reads]
    _CHILD["disk"] = _blocks_read() > blocks
    return [(folder, result) for (_, folder), result in zip(chunk, results, strict=True)]


def _blocks_read() -> int:
    """Blocks this process has read from storage (not from the page cache)."""
    import resource  # Unix only, as the forked readers that call this are

    return resource.getrusage(resource.RUSAGE_SELF).ru_inblock
