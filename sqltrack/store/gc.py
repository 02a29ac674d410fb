"""Permanent removal: data of deleted runs and experiments, and blobs no run references."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, select

from .experiments import record_purged_experiment
from .schema import artifacts, experiment_tags, experiments, latest_metrics, metrics, params, runs, tags

#: Unreferenced blobs younger than this are kept: a writer may be about to index them.
BLOB_GRACE_SECONDS = 3600


@dataclass
class GcReport:
    """What a garbage collection removed."""

    runs: int = 0
    experiments: int = 0
    metric_points: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    temp_files: int = 0
    run_ids: list[str] = field(default_factory=list)


def _purge_runs(conn: Connection, run_ids: list[int]) -> int:
    points = 0
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start:start + 500]
        points += conn.execute(select(func.count()).select_from(metrics)
                               .where(metrics.c.run_id.in_(chunk))).scalar() or 0
        for table in (metrics, latest_metrics, params, tags, artifacts):
            conn.execute(delete(table).where(table.c.run_id.in_(chunk)))
        conn.execute(delete(runs).where(runs.c.id.in_(chunk)))
    return points


def collect(store, *, older_than_ms: int = 0, dry_run: bool = False,
            blob_grace_seconds: float = BLOB_GRACE_SECONDS) -> GcReport:
    """Remove deleted runs (deleted at least ``older_than_ms`` ago), deleted experiments, orphan blobs."""
    report = GcReport()
    cutoff = int(time.time() * 1000) - older_than_ms

    def unit(conn: Connection) -> None:
        doomed = conn.execute(select(runs.c.id, runs.c.run_uuid).where(
            runs.c.lifecycle_stage == "deleted", func.coalesce(runs.c.deleted_time, 0) <= cutoff)).all()
        report.run_ids = [r.run_uuid for r in doomed]
        report.runs = len(doomed)
        dead_exps = conn.execute(select(experiments.c.experiment_id).where(
            experiments.c.lifecycle_stage == "deleted", experiments.c.last_update_time <= cutoff)).scalars().all()
        report.experiments = len(dead_exps)
        if dry_run:
            return
        report.metric_points = _purge_runs(conn, [r.id for r in doomed])
        for eid in dead_exps:
            left = conn.execute(select(func.count()).select_from(runs).where(runs.c.experiment_id == eid)).scalar()
            if not left:
                conn.execute(delete(experiment_tags).where(experiment_tags.c.experiment_id == eid))
                conn.execute(delete(experiments).where(experiments.c.experiment_id == eid))
                record_purged_experiment(conn, eid)
            else:
                report.experiments -= 1  # its runs are not all old enough yet

    store.write(unit)
    _collect_blobs(store, report, dry_run, blob_grace_seconds)
    return report


def _collect_blobs(store, report: GcReport, dry_run: bool, grace: float) -> None:
    blobs = store.blobs
    used = set(store.read(lambda conn: conn.execute(select(artifacts.c.digest).distinct()).scalars().all()))
    now = time.time()
    for digest in list(blobs.iter_digests()):
        if digest in used:
            continue
        info = blobs.blob_info(digest)  # any BlobBackend: a folder, or an fsspec URL
        if info is None or info.modified is None or now - info.modified < grace:
            continue  # gone meanwhile, or young (or of unknown age): a writer may be about to index it
        report.blobs += 1
        report.blob_bytes += info.size
        if not dry_run:
            blobs.delete(digest)
    if not dry_run:
        report.temp_files = blobs.clean_temp_files(older_than_s=grace)  # same grace: it may be a live write
