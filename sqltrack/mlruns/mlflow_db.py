"""``import_mlflow_db``: an MLflow tracking database (``sqlite:///mlflow.db`` or any SQLAlchemy URL).

MLflow's tables are read with plain SQLAlchemy reflection, so every schema revision
works (columns added later, such as ``step``, ``is_nan`` or ``deleted_time``, are optional),
and MLflow itself is never imported. MLflow stores NaN as 0 with ``is_nan = 1`` and
±inf as ±max-float; both are mapped back to the exact values.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from typing import Sequence

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ImportFailure
from ..store import values as V
from ..store.bulk import ExperimentContent, RunContent, canonical_points, derive
from .blobsink import BlobSink
from .experiments import sync_experiments
from .files import TreeGuard
from .importer import opened_store
from .pipeline import Task, default_workers, import_runs, read_all
from .reader import TreeContext, add_artifacts, local_path
from .records import ExperimentRecord, RunRecord, check_key, source_type_from, status_from
from .summary import ImportSummary, ProgressCallback

_TABLES = ("experiments", "experiment_tags", "runs", "params", "tags", "metrics")
_CHUNK = 200


def import_mlflow_db(url: str, store=None, *, experiments: Sequence[str] | None = None, dry_run: bool = False,
                     strict: bool = False, overwrite: bool = False, progress: ProgressCallback | None = None,
                     workers: int | None = None) -> ImportSummary:
    """Import an MLflow tracking database into a store (a Store, Client or tracking URI)."""
    started = time.monotonic()
    engine, shown = _open(url)
    summary = ImportSummary(source=shown, dry_run=dry_run)
    try:
        tables = _reflect(engine, shown)
        exps = _experiments(engine, tables, shown, experiments)
        with opened_store(store) as opened:
            if strict:
                _check_all(engine, tables, shown, exps, opened, workers or default_workers())
            ok = sync_experiments(opened, exps, summary, dry_run=dry_run)
            reader = _RunReader(engine, tables, shown, BlobSink(opened.blobs, write=not dry_run),
                                opened.rules.native_inf)
            tasks = reader.tasks({e.content.experiment_id for e in exps}, ok, summary)
            results = read_all(tasks, workers or default_workers())
            import_runs(opened, results, len(tasks), summary, overwrite=overwrite, dry_run=dry_run,
                        strict=strict, progress=progress)
            reader.sink.flush()
    except SQLAlchemyError as error:
        raise ImportFailure(f"Cannot read the MLflow database {shown}: {str(error).splitlines()[0]}") from error
    finally:
        engine.dispose()
    summary.seconds = time.monotonic() - started
    return summary


def _check_all(engine: Engine, tables: dict[str, Table], shown: str, exps: list[ExperimentRecord], store,
               workers: int) -> None:
    """--strict: read every run (hashing artifacts only) before anything is written."""
    reader = _RunReader(engine, tables, shown, BlobSink(store.blobs, write=False), store.rules.native_inf)
    ids = {e.content.experiment_id for e in exps}
    tasks = reader.tasks(ids, ids, ImportSummary(source=shown))
    failures = [str(r) for _, r in read_all(tasks, workers) if isinstance(r, ImportFailure)]
    if failures:
        more = f"\n(and {len(failures) - 20} more)" if len(failures) > 20 else ""
        raise ImportFailure(f"--strict: nothing was imported, because {len(failures)} problem(s) were found:\n"
                            + "\n".join(failures[:20]) + more)


def _open(url: str) -> tuple[Engine, str]:
    """A read-only engine on the MLflow database, and its URL for messages."""
    if "://" not in url:
        url = f"sqlite:///{os.path.abspath(url)}"
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not os.path.isfile(path):
            raise ImportFailure(f"{path or url}: no such MLflow database file; give e.g. sqlite:///mlflow.db.")
        parsed = parsed.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
    return create_engine(parsed), shown


def _reflect(engine: Engine, shown: str) -> dict[str, Table]:
    meta = MetaData()
    meta.reflect(engine, only=lambda name, _meta: name in _TABLES)
    missing = [t for t in ("experiments", "runs") if t not in meta.tables]
    if missing:
        raise ImportFailure(f"{shown} has no table {missing[0]!r}; it is not an MLflow tracking database.")
    return dict(meta.tables)


def _experiments(engine: Engine, tables: dict[str, Table], shown: str,
                 only: Sequence[str] | None) -> list[ExperimentRecord]:
    e = tables["experiments"].c
    with engine.connect() as conn:
        rows = conn.execute(select(tables["experiments"]).order_by(e.experiment_id)).mappings().all()
        tag_rows = conn.execute(select(tables["experiment_tags"])).mappings().all() \
            if "experiment_tags" in tables else []
    tags: dict[int, dict[str, str]] = {}
    for row in tag_rows:
        where = f"{shown} experiment {row['experiment_id']}"
        tags.setdefault(int(row["experiment_id"]), {})[check_key(row["key"], "experiment tag", where)] = \
            row["value"] or ""
    records = []
    for row in rows:
        eid = int(row["experiment_id"])
        if only and str(eid) not in only and row["name"] not in only:
            continue
        content = ExperimentContent(eid, row["name"], row.get("lifecycle_stage") or "active",
                                    row.get("creation_time"), row.get("last_update_time"), tags.get(eid, {}))
        records.append(ExperimentRecord(content, f"{shown} experiment {eid}"))
    return records


class _RunReader:
    """Loads runs a chunk at a time (shared by the reader threads) and builds one record per run."""

    def __init__(self, engine: Engine, tables: dict[str, Table], shown: str, sink: BlobSink,
                 native_inf: bool) -> None:
        self.engine, self.tables, self.shown, self.sink = engine, tables, shown, sink
        self.native_inf = native_inf
        self._chunks: list[list[str]] = []
        self._loaded: dict[int, dict[str, dict]] = {}
        self._locks: list[threading.Lock] = []

    def tasks(self, chosen: set[int], ok: set[int], summary: ImportSummary) -> list[Task]:
        """One reading task per run of the ``ok`` experiments (runs of the others count as skipped)."""
        r = self.tables["runs"].c
        with self.engine.connect() as conn:
            rows = conn.execute(select(r.run_uuid, r.experiment_id).order_by(r.experiment_id, r.start_time,
                                                                              r.run_uuid)).all()
        rows = [(u, int(e)) for u, e in rows if int(e) in chosen]
        summary.runs_total = len(rows)
        summary.runs_skipped += sum(1 for _, e in rows if e not in ok)
        uuids = [u for u, e in rows if e in ok]
        self._chunks = [uuids[i:i + _CHUNK] for i in range(0, len(uuids), _CHUNK)]
        self._locks = [threading.Lock() for _ in self._chunks]
        return [(f"{self.shown} run {u}", functools.partial(self.record, i // _CHUNK, u))
                for i, u in enumerate(uuids)]

    def record(self, chunk: int, uuid: str) -> RunRecord:
        """The run's record (its chunk is loaded on first use)."""
        with self._locks[chunk]:
            if chunk not in self._loaded:
                self._loaded[chunk] = self._load(self._chunks[chunk])
            raw = self._loaded[chunk].pop(uuid)
        return self._build(uuid, raw)

    def _load(self, uuids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {u: {"params": {}, "tags": {}, "points": {}} for u in uuids}
        with self.engine.connect() as conn:
            runs = self.tables["runs"]
            for row in conn.execute(select(runs).where(runs.c.run_uuid.in_(uuids))).mappings():
                found[row["run_uuid"]]["run"] = dict(row)
            for name in ("params", "tags"):
                if name in self.tables:
                    table = self.tables[name]
                    for row in conn.execute(select(table).where(table.c.run_uuid.in_(uuids))).mappings():
                        found[row["run_uuid"]][name][row["key"]] = row["value"]
            if "metrics" in self.tables:
                self._load_metrics(conn, uuids, found)
        return found

    def _load_metrics(self, conn, uuids: list[str], found: dict[str, dict]) -> None:
        table = self.tables["metrics"]
        for row in conn.execute(select(table).where(table.c.run_uuid.in_(uuids))).mappings():
            value = float(row["value"])
            if row.get("is_nan"):
                value = math.nan
            elif abs(value) >= V.MAX_FLOAT:
                value = math.copysign(math.inf, value)
            point = (int(row.get("step") or 0), int(row["timestamp"]), value)
            found[row["run_uuid"]]["points"].setdefault(row["key"], []).append(point)

    def _build(self, uuid: str, raw: dict) -> RunRecord:
        where = f"{self.shown} run {uuid}"
        run = raw["run"]
        params = {check_key(k, "param", where): v for k, v in raw["params"].items()}
        tags = {check_key(k, "tag", where): v or "" for k, v in raw["tags"].items()}
        points = {check_key(k, "metric", where): canonical_points(p) for k, p in raw["points"].items()}
        attrs = {"name": run.get("name") or tags.get("mlflow.runName") or None, "user_id": run.get("user_id"),
                 "status": status_from(run.get("status"), where), "start_time": run.get("start_time"),
                 "end_time": run.get("end_time"), "lifecycle_stage": run.get("lifecycle_stage") or "active",
                 "deleted_time": run.get("deleted_time"), "source_type": source_type_from(run.get("source_type")),
                 "source_name": run.get("source_name") or None,
                 "entry_point_name": run.get("entry_point_name") or None,
                 "source_version": run.get("source_version") or None}
        content = RunContent(uuid, int(run["experiment_id"]), attrs, params, tags, points)
        record = RunRecord(content, where)
        self._artifacts(record, run.get("artifact_uri"))
        derive(content, self.native_inf)
        return record

    def _artifacts(self, record: RunRecord, uri: object) -> None:
        folder = local_path(uri)
        if folder is not None and os.path.isdir(folder):
            ctx = TreeContext(folder, TreeGuard.for_root(folder), self.sink)
            add_artifacts(ctx, record, folder, "")
        elif isinstance(uri, str) and uri:
            record.warnings.append(f"{record.where}: artifacts at {uri} are not a local folder here; "
                                   "not imported.")
