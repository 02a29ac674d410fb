"""Copying a whole store to another database (and its blobs to another artifact root).

This is how a store grows from a laptop to a team server (SQLite → PostgreSQL/MariaDB)
and back. What is copied: experiments with their tags, every run (deleted ones too) with
its params, tags, whole metric histories, latest values and aggregates, and the artifact
index; optionally the artifact blobs the index refers to.

Identity and idempotence:

* experiments keep their ids and runs their 32-hex ids, so ``runs:/<id>`` URIs and
  bookmarks still work; internal ids (runs, key names) are remapped;
* copying again copies only what is missing: points are inserted once (the metrics primary
  key is the whole point), run rows, tags, experiments and latest values take the
  source's current values; a run that went on logging in the source is brought up to date;
* an experiment id that names another experiment in the target (or a name used under
  another id) stops the copy before anything is written (:class:`CopyConflict`).

Values: NaN/±inf/-0.0 are decoded from the source and encoded for the target (``±inf``
becomes ±max-float with its ``kind`` on MySQL/MariaDB, and back).

Verification: at the end, each table's rows of the copied experiments and runs are counted
and hashed in both stores (an order-independent checksum of their canonical form: run
ids, key names, exact values), and the copy fails with :class:`CopyMismatch` if any
differ. Copy a store that nobody is writing to; anything logged to the source during the
copy shows up as a mismatch (copy again to catch up).
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from sqlalchemy import Connection, bindparam, select, update

from ..errors import InvalidParameter, StoreError
from . import values as V
from .core import Store
from .dialect import insert_ignore_rows, upsert_rows
from .schema import artifacts, experiment_tags, experiments, key_names, latest_metrics, metrics, params, runs, tags

#: Runs copied per transaction.
RUN_CHUNK = 200
#: Metric points inserted per statement.
POINT_CHUNK = 20_000
_IN = 500

#: Progress callback: (phase, amount done since the last call). Phases: "runs", "blobs", and "checks"
#: (one per table and store verified: ``2 * len(_CANONICAL)`` in all).
Progress = Callable[[str, int], None]


class CopyConflict(InvalidParameter):
    """The target already holds an experiment that clashes with one of the source."""


class CopyMismatch(StoreError):
    """After a copy, the target's rows differ from the source's."""


@dataclass
class CopyReport:
    """What a copy did, and how the two stores compare afterwards."""

    source: str
    target: str
    experiments: int = 0
    runs_new: int = 0
    runs_updated: int = 0
    metric_points: int = 0
    blobs_copied: int = 0
    blob_bytes: int = 0
    blobs_skipped: str | None = None  # why blobs were not copied, if they were not
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (source rows, target rows)
    checksums: dict[str, tuple[str, str]] = field(default_factory=dict)  # table -> (source, target)

    @property
    def verified(self) -> bool:
        """True when every table has the same rows in both stores."""
        return bool(self.counts) and all(a == b for a, b in self.counts.values()) and all(
            a == b for a, b in self.checksums.values())

    def mismatches(self) -> list[str]:
        """The tables that differ, each with its counts."""
        return [f"{name} ({self.counts[name][0]:,} in the source, {self.counts[name][1]:,} in the target)"
                for name in self.counts
                if self.counts[name][0] != self.counts[name][1] or self.checksums[name][0] != self.checksums[name][1]]


def copy_store(source: Store, target: Store, *, copy_blobs: bool = True, progress: Progress | None = None,
               verify: bool = True) -> CopyReport:
    """Copy everything in ``source`` into ``target`` (see the module docstring); returns the report.

    Raises:
        CopyConflict: an experiment id or name clashes; nothing was written.
        CopyMismatch: after copying, the stores differ (``report`` attached as ``.report``).
    """
    report = CopyReport(source=source.display_url, target=target.display_url)
    tick = progress or (lambda phase, amount: None)
    exps = _read_experiments(source)
    _check_experiments(target, exps, source.display_url)
    target.write(lambda conn: _write_experiments(conn, exps))
    report.experiments = len(exps)
    key_map = _map_keys(source, target)
    for chunk in _chunks(source.read(lambda c: c.execute(select(runs.c.id).order_by(runs.c.id)).scalars().all()),
                         RUN_CHUNK):
        new, updated, points = _copy_runs(source, target, chunk, key_map)
        report.runs_new += new
        report.runs_updated += updated
        report.metric_points += points
        tick("runs", len(chunk))
    if copy_blobs:
        _copy_blobs(source, target, report, tick)
    else:
        report.blobs_skipped = "not asked for"
    target.forget_run_ids()
    if verify:
        verify_copy(source, target, report, tick)
        if not report.verified:
            error = CopyMismatch(f"After copying {source.display_url} to {target.display_url} these differ: "
                                 f"{'; '.join(report.mismatches())}. Was the source written to during the copy? "
                                 "Copy again to catch up; copying never removes rows from the target.")
            error.report = report  # type: ignore[attr-defined]
            raise error
    return report


def verification_steps() -> int:
    """How many "checks" a verification reports: each table, in each store."""
    return 2 * len(_CANONICAL)


def count_runs(store: Store) -> int:
    """How many runs a store holds (every lifecycle stage): the length of a copy's progress bar."""
    from sqlalchemy import func

    return store.read(lambda conn: conn.execute(select(func.count()).select_from(runs)).scalar() or 0)


# -- experiments -------------------------------------------------------------------------------

def _read_experiments(store: Store) -> list[tuple[dict, dict[str, str]]]:
    def unit(conn: Connection):
        rows = [dict(r._mapping) for r in conn.execute(select(experiments).order_by(experiments.c.experiment_id))]
        found: dict[int, dict[str, str]] = {r["experiment_id"]: {} for r in rows}
        for eid, key, value in conn.execute(select(experiment_tags)):
            found[eid][key] = value
        return [(row, found[row["experiment_id"]]) for row in rows]

    return store.read(unit)


def _check_experiments(target: Store, exps: list[tuple[dict, dict]], shown: str) -> None:
    present = target.read(lambda c: {r.experiment_id: r.name for r in c.execute(
        select(experiments.c.experiment_id, experiments.c.name))})
    by_name = {name: eid for eid, name in present.items()}
    for row, _ in exps:
        eid, name = row["experiment_id"], row["name"]
        if eid in present and present[eid] != name:
            raise CopyConflict(f"Experiment id {eid} is {name!r} in {shown} but {present[eid]!r} in "
                               f"{target.display_url}; nothing was copied. Copy into an empty database, or rename "
                               "one of them.")
        if name in by_name and by_name[name] != eid:
            raise CopyConflict(f"Experiment {name!r} has id {eid} in {shown} but id {by_name[name]} in "
                               f"{target.display_url}; nothing was copied. Rename one of them first.")


def _write_experiments(conn: Connection, exps: list[tuple[dict, dict]]) -> None:
    update_columns = [c.name for c in experiments.columns if c.name != "experiment_id"]
    upsert_rows(conn, experiments, [row for row, _ in exps], update=update_columns)
    upsert_rows(conn, experiment_tags, [{"experiment_id": row["experiment_id"], "key": k, "value": v}
                                        for row, tag_map in exps for k, v in tag_map.items()], update=["value"])


# -- key names and runs ------------------------------------------------------------------------

def _map_keys(source: Store, target: Store) -> dict[int, int]:
    """Source key id -> target key id, creating the names the target lacks."""
    names = source.read(lambda c: dict(c.execute(select(key_names.c.id, key_names.c.name)).all()))

    def unit(conn: Connection) -> dict[str, int]:
        wanted = sorted(set(names.values()))
        insert_ignore_rows(conn, key_names, [(n,) for n in wanted], columns=["name"])
        found: dict[str, int] = {}
        for chunk in _chunks(wanted, _IN):
            found.update(conn.execute(select(key_names.c.name, key_names.c.id)
                                      .where(key_names.c.name.in_(chunk))).all())
        return found

    by_name = target.write(unit)
    return {sid: by_name[name] for sid, name in names.items()}


_RUN_COLUMNS = [c.name for c in runs.columns if c.name != "id"]
_UPDATE_RUN = update(runs).where(runs.c.id == bindparam("b_id")).values(
    {c: bindparam(f"b_{c}") for c in _RUN_COLUMNS if c != "run_uuid"})


def _copy_runs(source: Store, target: Store, run_ids: list[int], key_map: dict[int, int]) -> tuple[int, int, int]:
    """Copy one chunk of runs with all their rows, in one target transaction; (new, updated, points)."""
    content = source.read(lambda conn: _read_chunk(conn, run_ids))
    native = target.rules.native_inf

    def unit(conn: Connection) -> tuple[int, int, int]:
        uuids = [row["run_uuid"] for row in content.runs.values()]
        existing = dict(conn.execute(select(runs.c.run_uuid, runs.c.id).where(runs.c.run_uuid.in_(uuids))).all())
        fresh = [row for row in content.runs.values() if row["run_uuid"] not in existing]
        if fresh:
            insert_ignore_rows(conn, runs, [tuple(row[c] for c in _RUN_COLUMNS) for row in fresh], columns=_RUN_COLUMNS)
        stale = [row for row in content.runs.values() if row["run_uuid"] in existing]
        if stale:
            conn.execute(_UPDATE_RUN, [{"b_id": existing[row["run_uuid"]],
                                        **{f"b_{c}": row[c] for c in _RUN_COLUMNS if c != "run_uuid"}}
                                       for row in stale])
        ids = dict(conn.execute(select(runs.c.run_uuid, runs.c.id).where(runs.c.run_uuid.in_(uuids))).all())
        run_map = {sid: ids[row["run_uuid"]] for sid, row in content.runs.items()}
        points = _write_children(conn, content, run_map, key_map, native)
        return len(fresh), len(stale), points

    return target.write(unit)


@dataclass
class _Chunk:
    runs: dict[int, dict]
    params: list[tuple]
    tags: list[tuple]
    metrics: list[tuple]
    latest: list[dict]
    artifacts: list[tuple]


def _read_chunk(conn: Connection, run_ids: list[int]) -> _Chunk:
    def rows(table, *columns):
        return conn.execute(select(*(table.c[c] for c in columns)).where(table.c.run_id.in_(run_ids))).all()

    return _Chunk(
        runs={r.id: dict(r._mapping) for r in conn.execute(select(runs).where(runs.c.id.in_(run_ids)))},
        params=rows(params, "run_id", "key_id", "value", "value_num"),
        tags=rows(tags, "run_id", "key_id", "value"),
        metrics=rows(metrics, "run_id", "key_id", "step", "timestamp", "value", "kind"),
        latest=[dict(r._mapping) for r in conn.execute(select(latest_metrics)
                                                       .where(latest_metrics.c.run_id.in_(run_ids)))],
        artifacts=rows(artifacts, "run_id", "path", "digest", "size", "created_time"),
    )


def _write_children(conn: Connection, chunk: _Chunk, run_map: dict[int, int], key_map: dict[int, int],
                    native: bool) -> int:
    insert_ignore_rows(conn, params, [(run_map[r], key_map[k], v, n) for r, k, v, n in chunk.params])
    upsert_rows(conn, tags, [{"run_id": run_map[r], "key_id": key_map[k], "value": v} for r, k, v in chunk.tags],
                update=["value"])
    points = [(run_map[r], key_map[k], s, t, *_recode(v, kind, native)) for r, k, s, t, v, kind in chunk.metrics]
    for part in _chunks(points, POINT_CHUNK):
        insert_ignore_rows(conn, metrics, part)
    latest_columns = [c.name for c in latest_metrics.columns if c.name not in ("run_id", "key_id")]
    upsert_rows(conn, latest_metrics, [_latest_row(row, run_map, key_map, native) for row in chunk.latest],
                update=latest_columns)
    insert_ignore_rows(conn, artifacts, [(run_map[r], p, d, s, c) for r, p, d, s, c in chunk.artifacts])
    return len(points)


def _recode(value: float | None, kind: int | None, native: bool) -> tuple[float, int]:
    """A stored (value, kind) re-encoded for the target backend (±inf as ±max-float where it has no inf)."""
    return V.encode_metric(V.decode_metric(value, kind), native)


def _latest_row(row: dict, run_map: dict[int, int], key_map: dict[int, int], native: bool) -> dict:
    out = dict(row, run_id=run_map[row["run_id"]], key_id=key_map[row["key_id"]])
    out["value"], out["kind"] = _recode(row["value"], row["kind"], native)
    if row["first_kind"] is not None:
        out["first_value"], out["first_kind"] = _recode(row["first_value"], row["first_kind"], native)
    return out  # min/max/avg/sum: the schema's aggregate type maps ±inf for each backend


# -- blobs -------------------------------------------------------------------------------------

def _copy_blobs(source: Store, target: Store, report: CopyReport, tick: Progress) -> None:
    if repr(source.blobs) == repr(target.blobs):
        report.blobs_skipped = "the two stores share one artifact root"
        return
    digests = source.read(lambda c: c.execute(select(artifacts.c.digest).distinct()).scalars().all())
    with tempfile.TemporaryDirectory(prefix="sqltrack-copy-") as folder:
        for digest in sorted(digests):
            if not target.blobs.exists(digest):
                local = Path(folder) / digest
                source.blobs.copy_to(digest, local, context=f"copying blob {digest} to {target.display_url}")
                _, size = target.blobs.put_file(local)
                os.unlink(local)
                report.blobs_copied += 1
                report.blob_bytes += size
            tick("blobs", 1)


# -- verification ------------------------------------------------------------------------------

def verify_copy(source: Store, target: Store, report: CopyReport, progress: Progress | None = None) -> None:
    """Count and checksum each table's rows of the source's experiments and runs, in both stores."""
    tick = progress or (lambda phase, amount: None)
    experiment_ids = set(source.read(lambda c: c.execute(select(experiments.c.experiment_id)).scalars().all()))
    run_uuids = set(source.read(lambda c: c.execute(select(runs.c.run_uuid)).scalars().all()))
    for name, build in _CANONICAL.items():
        counts, sums = [], []
        for store in (source, target):
            count, digest = _digest(store, build, experiment_ids, run_uuids)
            counts.append(count)
            sums.append(digest)
            tick("checks", 1)
        report.counts[name] = (counts[0], counts[1])
        report.checksums[name] = (sums[0], sums[1])


def _digest(store: Store, build, experiment_ids: set[int], run_uuids: set[str]) -> tuple[int, str]:
    """(rows, order-independent checksum) of one table's canonical rows within the given scope."""
    query, scope, canonical = build()
    total, count = 0, 0
    with store.connection() as conn:
        for row in conn.execution_options(yield_per=5_000).execute(query):
            wanted = experiment_ids if scope == "experiment" else run_uuids
            if row[0] not in wanted:
                continue
            text = "\x1f".join(_show(v) for v in canonical(row))
            total = (total + int.from_bytes(hashlib.blake2b(text.encode(), digest_size=16).digest(), "big")) % 2**128
            count += 1
    return count, f"{total:032x}"


def _show(value) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _decoded(value, kind) -> float:
    return V.decode_metric(None if value is None else float(value), kind)


def _aggregate(value) -> float | None:
    """An aggregate as every backend can hold it.

    Aggregates have no ``kind`` column: MySQL/MariaDB keep ±inf as ±max-float and read ±max-float
    back as ±inf (``schema.AggregateDouble``), so ±max-float and ±inf count as one value here.
    """
    if value is None:
        return None
    value = float(value)
    return math.copysign(math.inf, value) if abs(value) >= V.MAX_FLOAT else value


def _experiments_query():
    e = experiments.c
    return select(e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time,
                  e.last_update_time), "experiment", tuple


def _experiment_tags_query():
    t = experiment_tags.c
    return select(t.experiment_id, t.key, t.value), "experiment", tuple


def _runs_query():
    return select(runs.c.run_uuid, *(runs.c[c] for c in _RUN_COLUMNS if c != "run_uuid")), "run", tuple


def _keyed_query(table, *columns):
    return (select(runs.c.run_uuid, key_names.c.name, *(table.c[c] for c in columns))
            .select_from(table.join(runs, runs.c.id == table.c.run_id)
                         .join(key_names, key_names.c.id == table.c.key_id)))


def _params_query():
    return _keyed_query(params, "value", "value_num"), "run", lambda r: (r[0], r[1], r[2],
                                                                      None if r[3] is None else float(r[3]))


def _tags_query():
    return _keyed_query(tags, "value"), "run", tuple


def _metrics_query():
    return (_keyed_query(metrics, "step", "timestamp", "value", "kind"), "run",
            lambda r: (r[0], r[1], r[2], r[3], _decoded(r[4], r[5])))


def _latest_query():
    columns = ("step", "timestamp", "value", "kind", "first_step", "first_timestamp", "first_value", "first_kind",
               "min_value", "max_value", "avg_value", "sum_value", "count", "nan_count")

    def canonical(r):
        (uuid, key, step, stamp, value, kind, first_step, first_stamp, first_value, first_kind,
         low, high, avg, total, count, nans) = r
        first = None if first_kind is None else _decoded(first_value, first_kind)
        return (uuid, key, step, stamp, _decoded(value, kind), first_step, first_stamp, first,
                _aggregate(low), _aggregate(high), _aggregate(avg), _aggregate(total), count, nans)

    return _keyed_query(latest_metrics, *columns), "run", canonical


def _artifacts_query():
    a = artifacts.c
    return (select(runs.c.run_uuid, a.path, a.digest, a.size, a.created_time)
            .select_from(artifacts.join(runs, runs.c.id == a.run_id)), "run", tuple)


_CANONICAL = {
    "experiments": _experiments_query, "experiment_tags": _experiment_tags_query, "runs": _runs_query,
    "params": _params_query, "tags": _tags_query, "metrics": _metrics_query, "latest_metrics": _latest_query,
    "artifacts": _artifacts_query,
}


def _chunks(items: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
