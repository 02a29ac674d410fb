"""``export_mlruns``: a store (or part of it) as an mlruns tree that MLflow 1.x-3.x reads.

Each run is written into a temporary folder beside its final place and renamed into
place when complete, so a failed or interrupted export never leaves half a run that
MLflow would read.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from sqlalchemy import select

from ..artifacts.cas import CHUNK_SIZE
from ..artifacts.paths import safe_destination
from ..entities import ViewType
from ..errors import ExperimentNotFound, InvalidParameter, SqltrackError
from ..store import bulk
from ..store import values as V
from ..store.bulk import ExperimentContent, RunContent
from ..store.schema import runs
from .importer import opened_store
from .records import CODE_BY_SOURCE, CODE_BY_STATUS, mlflow_key_problem
from .summary import ExportSummary, ProgressCallback
from .tree import Problem
from .yaml_safe import dump

_CHUNK = 200


def export_mlruns(out: str | os.PathLike, store=None, *, experiments: Sequence[str] | None = None,
                  filter_string: str | None = None, progress: ProgressCallback | None = None,
                  workers: int | None = None) -> ExportSummary:
    """Write experiments and runs (all, or those named / matching the filter) as an mlruns tree at ``out``."""
    started = time.monotonic()
    root = Path(out).absolute()
    if root.exists() and any(root.iterdir()):
        raise InvalidParameter(f"{root} is not empty; export into a new or empty folder.")
    summary = ExportSummary(destination=str(root))
    with opened_store(store) as opened:
        chosen = _choose_experiments(opened, experiments)
        uuids = _choose_runs(opened, chosen, filter_string)
        (root / ".trash").mkdir(parents=True, exist_ok=True)
        folders = {e.experiment_id: _write_experiment(root, e) for e in chosen}
        summary.experiments = len(chosen)
        _export_runs(opened, uuids, folders, summary, progress, workers or 8)
    summary.seconds = time.monotonic() - started
    return summary


def _choose_experiments(store, wanted: Sequence[str] | None) -> list[ExperimentContent]:
    found = store.read(bulk.load_experiments)
    if not wanted:
        return sorted(found.values(), key=lambda e: e.experiment_id)
    chosen = [e for e in found.values() if str(e.experiment_id) in wanted or e.name in wanted]
    known = {str(e.experiment_id) for e in chosen} | {e.name for e in chosen}
    missing = [w for w in wanted if w not in known]
    if missing:
        raise ExperimentNotFound(f"No experiment named (or with id) {', '.join(map(repr, missing))} in the store "
                                 f"{store.display_url}; 'sqltrack experiments list' shows the ones there are.")
    return sorted(chosen, key=lambda e: e.experiment_id)


def _choose_runs(store, chosen: list[ExperimentContent], filter_string: str | None) -> list[str]:
    ids = [e.experiment_id for e in chosen]

    def unit(conn) -> list[str]:
        if filter_string:
            from ..query.search import build_run_search

            query = build_run_search(filter_string, [], ids, ViewType.ALL, store.dialect_name).subquery()
            rows = select(runs.c.run_uuid).where(runs.c.id.in_(select(query.c.id)))
        else:
            rows = select(runs.c.run_uuid).where(runs.c.experiment_id.in_(ids))
        return list(conn.execute(rows.order_by(runs.c.id)).scalars())

    return store.read(unit)


def _write_experiment(root: Path, exp: ExperimentContent) -> Path:
    """Write ``<root>/[.trash/]<id>/meta.yaml`` and its tags; returns the folder."""
    base = root / ".trash" if exp.lifecycle_stage == "deleted" else root
    folder = base / str(exp.experiment_id)
    folder.mkdir(parents=True)
    meta = {"artifact_location": folder.as_uri(), "creation_time": exp.creation_time,
            "experiment_id": str(exp.experiment_id), "last_update_time": exp.last_update_time,
            "lifecycle_stage": exp.lifecycle_stage, "name": exp.name}
    write_text(folder / "meta.yaml", dump(meta))
    _write_values(folder / "tags", exp.tags)
    return folder


def _export_runs(store, uuids: list[str], folders: dict[int, Path], summary: ExportSummary,
                 progress: ProgressCallback | None, workers: int) -> None:
    done = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="sqltrack-export") as pool:
        for start in range(0, len(uuids), _CHUNK):
            chunk = uuids[start:start + _CHUNK]
            contents = store.read(lambda conn, c=chunk: bulk.load_contents(conn, c))
            jobs = [(content, pool.submit(write_run, store.blobs, folders[content.experiment_id], content))
                    for _, content in (contents[u] for u in chunk if u in contents)]
            for content, job in jobs:
                _collect(summary, content, job)
                done += 1
                if progress is not None:
                    progress(done, len(uuids))


def _collect(summary: ExportSummary, content: RunContent, job) -> None:
    try:
        job.result()
    except (SqltrackError, OSError) as error:
        summary.runs_failed += 1
        summary.problems.append(Problem("failed", content.run_uuid, f"run {content.run_uuid} not exported: {error}",
                                        content.run_uuid))
        return
    summary.runs_exported += 1
    summary.metric_points += content.point_count()
    summary.artifact_files += len(content.artifacts)
    summary.artifact_bytes += sum(size for _, size, _ in content.artifacts.values())


def write_run(blobs, exp_folder: Path, content: RunContent) -> None:
    """Write one run folder completely (in a temp folder, renamed into place at the end)."""
    _check_keys(content)
    final = exp_folder / content.run_uuid
    tmp = exp_folder / f".tmp-{content.run_uuid}"
    try:
        for sub in ("metrics", "params", "tags", "artifacts"):
            (tmp / sub).mkdir(parents=True)
        write_text(tmp / "meta.yaml", dump(run_meta(final, content)))
        _write_values(tmp / "params", content.params)
        _write_values(tmp / "tags", content.tags)
        for key, points in content.points.items():
            write_text(_key_path(tmp / "metrics", key), metric_lines(points))
        for path, (digest, _size, created) in content.artifacts.items():
            _write_artifact(blobs, tmp / "artifacts", path, digest, created, content.run_uuid)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run_meta(final: Path, content: RunContent) -> dict:
    """The run's meta.yaml fields, as MLflow 2.x writes them (3.x ignores ``run_uuid``)."""
    attrs = content.attrs
    meta = {"artifact_uri": (final / "artifacts").as_uri(), "end_time": attrs.get("end_time"),
            "entry_point_name": attrs.get("entry_point_name") or "", "experiment_id": str(content.experiment_id),
            "lifecycle_stage": attrs.get("lifecycle_stage") or "active", "run_id": content.run_uuid,
            "run_name": attrs.get("name") or "", "run_uuid": content.run_uuid,
            "source_name": attrs.get("source_name") or "",
            "source_type": CODE_BY_SOURCE.get(attrs.get("source_type") or "LOCAL", 4),
            "source_version": attrs.get("source_version") or "", "start_time": attrs.get("start_time"),
            "status": CODE_BY_STATUS[attrs.get("status") or "RUNNING"], "tags": [],
            "user_id": attrs.get("user_id") or ""}
    if attrs.get("deleted_time") is not None:
        meta["deleted_time"] = attrs["deleted_time"]
    return meta


def metric_lines(points: list) -> str:
    """A metric file: ``timestamp value step`` per point, by step then timestamp."""
    lines = []
    for step, ts, value, kind in sorted(points, key=lambda p: (p[0], p[1])):
        lines.append(f"{ts} {V.decode_metric(value, kind)!r} {step}\n")
    return "".join(lines)


def _check_keys(content: RunContent) -> None:
    for what, keys in (("param", content.params), ("tag", content.tags), ("metric", content.points)):
        for key in keys:
            problem = mlflow_key_problem(key)
            if problem:
                raise InvalidParameter(f"the {what} key {key!r} {problem}, so MLflow could not read the run back.")
            if any(other.startswith(key + "/") for other in keys):
                raise InvalidParameter(f"the {what} keys {key!r} and {key + '/…'!r} cannot both be files in an "
                                       "mlruns tree (one would be a folder).")


def _key_path(folder: Path, key: str) -> Path:
    path = folder.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write_values(folder: Path, values: dict[str, str]) -> None:
    if values:
        folder.mkdir(exist_ok=True)
    for key, value in values.items():
        write_text(_key_path(folder, key), value)


def write_text(path: Path, text: str) -> None:
    """UTF-8, ``\\n`` line ends, no trailing newline added (as MLflow writes)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)


def _write_artifact(blobs, folder: Path, path: str, digest: str, created: int, run_id: str) -> None:
    dest = safe_destination(folder, path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with blobs.open(digest, context=f"run {run_id}, artifact {path}") as src, open(dest, "xb") as out:
        shutil.copyfileobj(src, out, CHUNK_SIZE)
    os.utime(dest, ns=(created * 1_000_000, created * 1_000_000))
