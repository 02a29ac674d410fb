"""``import_mlruns``: an mlruns tree (any MLflow version) into a sqltrack store."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator, Sequence

from ..errors import ImportFailure
from .blobsink import BlobSink
from .experiments import sync_experiments
from .files import TreeGuard
from .parallel import read_runs
from .pipeline import default_processes, default_workers, import_runs
from .reader import TreeContext
from .summary import ImportSummary, ProgressCallback
from .tree import Problem, TreeScan, scan_tree


@contextmanager
def opened_store(store) -> Iterator:
    """A Store from a Store, a Client, or a tracking URI/path (opened here and closed after)."""
    from ..store import Store, open_store

    if isinstance(store, Store):
        yield store
        return
    inner = getattr(store, "store", None)
    if isinstance(inner, Store):
        yield inner
        return
    opened = open_store(store)
    try:
        yield opened
    finally:
        opened.close()


def import_mlruns(path: str | os.PathLike, store=None, *, experiments: Sequence[str] | None = None,
                  dry_run: bool = False, strict: bool = False, overwrite: bool = False,
                  allow_external_artifacts: bool = False, progress: ProgressCallback | None = None,
                  workers: int | None = None, processes: int | None = None) -> ImportSummary:
    """Import an mlruns tree into a store (a Store, Client or tracking URI); returns what happened.

    Keeps experiment and run ids, names, times, statuses, lifecycle stages, params, tags,
    complete metric histories and artifacts. Importing again is a no-op; runs that grew
    are brought up to date; a run that differs otherwise is a conflict, left alone unless
    ``overwrite``. Bad runs are skipped and reported, or with ``strict`` the import stops
    before writing anything.
    """
    started = time.monotonic()
    root = os.path.abspath(os.fspath(path))
    summary = ImportSummary(source=root, dry_run=dry_run)
    guard = TreeGuard.for_root(root)
    scan = scan_tree(root, guard, list(experiments) if experiments else None)
    summary.problems += scan.problems
    summary.experiments_failed += sum(1 for p in scan.problems if p.kind == "failed")
    summary.runs_total = len(scan.run_dirs)
    with opened_store(store) as opened:
        ctx = TreeContext(root, guard, BlobSink(opened.blobs, write=not dry_run), allow_external_artifacts,
                          scan.models, opened.rules.native_inf)
        workers = workers or default_workers()
        processes = default_processes() if processes is None else processes
        if strict:
            _check_all(scan, ctx, workers, processes)
        ok = sync_experiments(opened, scan.experiments, summary, dry_run=dry_run)
        items = _runs_to_read(scan, ok, summary)
        results = read_runs(ctx, items, workers, processes)
        import_runs(opened, results, len(items), summary, overwrite=overwrite, dry_run=dry_run, strict=strict,
                    progress=progress)
        ctx.sink.flush()
    summary.seconds = time.monotonic() - started
    return summary


def _runs_to_read(scan: TreeScan, ok: set[int], summary: ImportSummary) -> list[tuple[int, str]]:
    """The run folders of the experiments that were synced; the others' runs count as skipped."""
    items = [(eid, run_dir) for eid, run_dir in scan.run_dirs if eid in ok]
    summary.runs_skipped += len(scan.run_dirs) - len(items)
    return items


def _check_all(scan: TreeScan, ctx: TreeContext, workers: int, processes: int) -> None:
    """--strict: read and check everything (hashing only) before anything is written."""
    failures = [p.message for p in scan.problems if p.kind == "failed"]
    check = TreeContext(ctx.root, ctx.guard, BlobSink(ctx.sink.blobs, write=False), ctx.allow_external,
                        ctx.models, ctx.native_inf)
    failures += [str(r) for _, r in read_runs(check, scan.run_dirs, workers, processes)
                 if isinstance(r, ImportFailure)]
    if failures:
        more = f"\n(and {len(failures) - 20} more)" if len(failures) > 20 else ""
        raise ImportFailure(f"--strict: nothing was imported, because {len(failures)} problem(s) were found:\n"
                            + "\n".join(failures[:20]) + more)


__all__ = ["import_mlruns", "opened_store", "Problem"]
