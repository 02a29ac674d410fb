"""Writing whole runs at once: a run row with its own id and times, and all its values.

Used by importers (mlruns folders, MLflow databases). A run is described by a
:class:`RunContent`; the functions here load, insert, extend and replace them inside
the caller's transaction, with driver-level ``executemany`` for the child rows.
Metric points are kept in one canonical form, ``(step, timestamp, value, kind)`` with
the value as :func:`values.encode_metric` gives it for a backend with native ±inf, so
that points compare and de-duplicate exactly (NaN included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Connection, delete, select, update

from . import values as V
from .batch import Point
from .dialect import insert_ignore_rows, upsert_rows
from .keys import key_ids
from .schema import artifacts, experiment_tags, experiments, key_names, latest_metrics, metrics, params, runs, tags

#: A metric point in canonical form: (step, timestamp, stored value, kind).
PointRow = tuple[int, int, float, int]
#: The columns of ``runs`` that a RunContent carries in ``attrs``.
RUN_ATTRS = ("name", "user_id", "status", "start_time", "end_time", "lifecycle_stage", "deleted_time",
             "source_type", "source_name", "entry_point_name", "source_version")
_CHUNK = 500
_LATEST_COLUMNS = [c.name for c in latest_metrics.columns]


@dataclass
class RunContent:
    """Everything stored about one run, independent of internal ids."""

    run_uuid: str
    experiment_id: int
    attrs: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    points: dict[str, list[PointRow]] = field(default_factory=dict)
    artifacts: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # path -> (digest, size, created)
    #: What the write derives from the content (see :func:`derive`); may be computed ahead, elsewhere.
    derived: "Derived | None" = field(default=None, compare=False, repr=False)

    def point_count(self) -> int:
        """How many metric points the run has, over all keys."""
        return sum(len(p) for p in self.points.values())


@dataclass
class Derived:
    """Values computed from a RunContent for writing it: cheap to compute in a reader process."""

    latest: dict[str, tuple]  # key -> latest_metrics row without (run_id, key_id)
    param_numbers: dict[str, float | None]
    last_activity: int | None


def derive(content: RunContent, native: bool) -> Derived:
    """Compute (and attach) the latest_metrics rows, numeric params and last activity of a run."""
    content.derived = Derived({k: latest_row(0, 0, pts, native)[2:] for k, pts in content.points.items() if pts},
                              {k: V.param_number(v) for k, v in content.params.items()},
                              last_activity(content))
    return content.derived


@dataclass
class ExperimentContent:
    """An experiment as stored, tags included."""

    experiment_id: int
    name: str
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str] = field(default_factory=dict)
    artifact_location: str | None = None


def canonical_points(points: Iterable[tuple[int, int, float]]) -> list[PointRow]:
    """Exact (step, timestamp, value) points → sorted, de-duplicated canonical rows."""
    unique = set()
    add = unique.add
    encode = V.encode_metric
    for step, ts, value in points:
        if value == value and value != 0.0 and value not in _INFINITIES:
            add((step, ts, value, V.FINITE))  # the common case, without a call
        else:
            add((step, ts) + encode(value, True))
    return sorted(unique)


_INFINITIES = (math.inf, -math.inf)


def last_activity(content: RunContent) -> int | None:
    """A run's last activity time, derived from its content so that it is reproducible."""
    times = [t for t in (content.attrs.get("start_time"), content.attrs.get("end_time")) if t is not None]
    times += [max(p[1] for p in pts) for pts in content.points.values() if pts]
    return max(times) if times else None


# -- loading -----------------------------------------------------------------------------------


def load_contents(conn: Connection, uuids: Sequence[str]) -> dict[str, tuple[int, RunContent]]:
    """The stored content of the runs with these ids that exist: ``{run_uuid: (internal id, content)}``."""
    found: dict[str, tuple[int, RunContent]] = {}
    for start in range(0, len(uuids), _CHUNK):
        chunk = list(uuids[start:start + _CHUNK])
        by_rid: dict[int, RunContent] = {}
        for row in conn.execute(select(runs).where(runs.c.run_uuid.in_(chunk))):
            attrs = {name: getattr(row, name) for name in RUN_ATTRS}
            by_rid[row.id] = RunContent(row.run_uuid, row.experiment_id, attrs)
        if by_rid:
            _load_children(conn, by_rid)
        found.update({c.run_uuid: (rid, c) for rid, c in by_rid.items()})
    return found


def _load_children(conn: Connection, by_rid: dict[int, RunContent]) -> None:
    rids = list(by_rid)
    for table, slot in ((params, "params"), (tags, "tags")):
        query = (select(table.c.run_id, key_names.c.name, table.c.value)
                 .join_from(table, key_names, key_names.c.id == table.c.key_id).where(table.c.run_id.in_(rids)))
        for rid, key, value in conn.execute(query):
            getattr(by_rid[rid], slot)[key] = value
    m = metrics.c
    query = (select(m.run_id, key_names.c.name, m.step, m.timestamp, m.value, m.kind)
             .join_from(metrics, key_names, key_names.c.id == m.key_id).where(m.run_id.in_(rids)))
    for rid, key, step, ts, value, kind in conn.execute(query):
        exact = V.decode_metric(value, kind)
        by_rid[rid].points.setdefault(key, []).append((step, ts) + V.encode_metric(exact, True))
    for content in by_rid.values():
        for pts in content.points.values():
            pts.sort()
    a = artifacts.c
    for rid, path, digest, size, created in conn.execute(
            select(a.run_id, a.path, a.digest, a.size, a.created_time).where(a.run_id.in_(rids))):
        by_rid[rid].artifacts[path] = (digest, size, created)


# -- writing -----------------------------------------------------------------------------------


def insert_runs(store, conn: Connection, contents: Sequence[RunContent]) -> dict[str, int]:
    """Insert new runs with all their values; returns ``{run_uuid: internal id}``."""
    if not contents:
        return {}
    rows = [_run_row(c) for c in contents]
    columns = list(rows[0])
    insert_ignore_rows(conn, runs, [tuple(r.values()) for r in rows], columns=columns)
    ids: dict[str, int] = {}
    uuids = [c.run_uuid for c in contents]
    for start in range(0, len(uuids), _CHUNK):
        query = select(runs.c.run_uuid, runs.c.id).where(runs.c.run_uuid.in_(uuids[start:start + _CHUNK]))
        ids.update({u: i for u, i in conn.execute(query)})
    write_children(store, conn, [(ids[c.run_uuid], c) for c in contents])
    return ids


def _run_row(content: RunContent) -> dict[str, Any]:
    activity = content.derived.last_activity if content.derived else last_activity(content)
    row = {"run_uuid": content.run_uuid, "experiment_id": content.experiment_id,
           "artifact_uri": f"runs:/{content.run_uuid}", "last_activity_time": activity}
    row.update({name: content.attrs.get(name) for name in RUN_ATTRS})
    row["lifecycle_stage"] = row["lifecycle_stage"] or "active"
    return row


def write_children(store, conn: Connection, items: Sequence[tuple[int, RunContent]]) -> None:
    """Insert the params, tags, metric points, latest metrics and artifact rows of runs that have none."""
    names: set[str] = set()
    for _, c in items:
        names.update(c.params, c.tags, c.points)
    ids = key_ids(store, conn, names) if names else {}
    native = store.rules.native_inf
    param_rows, tag_rows, point_rows, latest_rows, artifact_rows = [], [], [], [], []
    for rid, c in items:
        derived = c.derived if c.derived is not None else derive(c, native)
        numbers = derived.param_numbers
        param_rows += [(rid, ids[k], v, numbers[k]) for k, v in c.params.items()]
        tag_rows += [(rid, ids[k], v) for k, v in c.tags.items()]
        for key, pts in c.points.items():
            head = (rid, ids[key])
            if native:
                point_rows += [head + p for p in pts]
            else:
                point_rows += [head + (s, t) + _stored(v, k, native) for s, t, v, k in pts]
            latest_rows.append(head + derived.latest[key])
        artifact_rows += [(rid, p, d, n, t) for p, (d, n, t) in c.artifacts.items()]
    insert_ignore_rows(conn, params, param_rows, columns=["run_id", "key_id", "value", "value_num"])
    insert_ignore_rows(conn, tags, tag_rows, columns=["run_id", "key_id", "value"])
    insert_ignore_rows(conn, metrics, point_rows, columns=["run_id", "key_id", "step", "timestamp", "value", "kind"])
    insert_ignore_rows(conn, latest_metrics, latest_rows, columns=_LATEST_COLUMNS)
    insert_ignore_rows(conn, artifacts, artifact_rows, columns=["run_id", "path", "digest", "size", "created_time"])


def _stored(value: float, kind: int, native: bool) -> tuple[float, int]:
    if native or kind in (V.FINITE, V.NAN):
        return value, kind
    return V.encode_metric(V.decode_metric(value, kind), False)


def latest_row(rid: int, kid: int, pts: Sequence[PointRow], native: bool) -> tuple:
    """The latest_metrics row of one key's canonical points (sorted, unique), as batch.py computes it.

    Latest is the max by (step, timestamp, value) with NaN counting as 0, first the min by
    (step, timestamp); min/max/sum/avg leave NaN out. Same results as ``batch._Summary``,
    several times faster (this runs once per key of every imported run).
    """
    end = len(pts) - 1
    while end > 0 and pts[end - 1][:3] == pts[end][:3]:
        end -= 1
    latest, first = pts[end], pts[0]
    finite = [p[2] if p[3] != V.NEG_ZERO else -0.0 for p in pts if p[3] != V.NAN]
    total = sum(finite) if finite else None
    count, kept = len(pts), len(finite)
    avg = None if not kept or total is None else total / kept
    value, kind = _stored(latest[2], latest[3], native)
    first_value, first_kind = _stored(first[2], first[3], native)
    return (rid, kid, latest[0], latest[1], value, kind, _agg(min(finite) if finite else None, native),
            _agg(max(finite) if finite else None, native), _agg(avg, native), _agg(total, native),
            first_value, first_kind, first[0], first[1], count, count - kept)


def _agg(value: float | None, native: bool) -> float | None:
    if value is None or value != value:
        return None
    if not native and value in (math.inf, -math.inf):
        return math.copysign(V.MAX_FLOAT, value)
    return value


def replace_run(store, conn: Connection, rid: int, content: RunContent) -> None:
    """Replace everything stored about a run (its internal id stays)."""
    for table in (params, tags, latest_metrics, metrics, artifacts):
        conn.execute(delete(table).where(table.c.run_id == rid))
    row = _run_row(content)
    row.pop("run_uuid")
    conn.execute(update(runs).where(runs.c.id == rid).values(**row))
    write_children(store, conn, [(rid, content)])


def extend_run(store, conn: Connection, rid: int, old: RunContent, new: RunContent) -> None:
    """Bring a stored run up to ``new``, which holds all of ``old``'s params and points and more."""
    from .batch import write_points

    row = _run_row(new)
    row.pop("run_uuid")
    conn.execute(update(runs).where(runs.c.id == rid).values(**row))
    added = {k: v for k, v in new.params.items() if k not in old.params}
    ids = key_ids(store, conn, set(added) | set(new.tags) | set(old.tags) | set(new.points))
    insert_ignore_rows(conn, params, [(rid, ids[k], v, V.param_number(v)) for k, v in added.items()],
                       columns=["run_id", "key_id", "value", "value_num"])
    _sync_tags(conn, rid, ids, old.tags, new.tags)
    fresh = [Point(k, s, t, V.decode_metric(v, kind)) for k, pts in new.points.items()
             for s, t, v, kind in sorted(set(pts) - set(old.points.get(k, ())))]
    write_points(store, conn, rid, fresh)
    _sync_artifacts(conn, rid, old.artifacts, new.artifacts)


def _sync_tags(conn: Connection, rid: int, ids: Mapping[str, int], old: dict, new: dict) -> None:
    gone = [ids[k] for k in old if k not in new]
    if gone:
        conn.execute(delete(tags).where(tags.c.run_id == rid, tags.c.key_id.in_(gone)))
    changed = [{"run_id": rid, "key_id": ids[k], "value": v} for k, v in new.items() if old.get(k) != v]
    upsert_rows(conn, tags, changed, update=["value"])


def _sync_artifacts(conn: Connection, rid: int, old: dict, new: dict) -> None:
    gone = [p for p in old if p not in new]
    for start in range(0, len(gone), _CHUNK):
        conn.execute(delete(artifacts).where(artifacts.c.run_id == rid,
                                             artifacts.c.path.in_(gone[start:start + _CHUNK])))
    changed = [{"run_id": rid, "path": p, "digest": d, "size": n, "created_time": t}
               for p, (d, n, t) in new.items() if old.get(p, (None, None))[:2] != (d, n)]
    upsert_rows(conn, artifacts, changed, update=["digest", "size", "created_time"])


# -- experiments -------------------------------------------------------------------------------


def load_experiments(conn: Connection) -> dict[int, ExperimentContent]:
    """Every experiment of the store with its tags."""
    found = {row.experiment_id: ExperimentContent(row.experiment_id, row.name, row.lifecycle_stage,
                                                  row.creation_time, row.last_update_time, {},
                                                  row.artifact_location)
             for row in conn.execute(select(experiments))}
    for eid, key, value in conn.execute(select(experiment_tags.c.experiment_id, experiment_tags.c.key,
                                               experiment_tags.c.value)):
        found[eid].tags[key] = value
    return found


def write_experiment(conn: Connection, exp: ExperimentContent, exists: bool) -> None:
    """Insert an experiment, or update an existing one (same id) to match ``exp``, tags included."""
    values = {"name": exp.name, "lifecycle_stage": exp.lifecycle_stage, "creation_time": exp.creation_time,
              "last_update_time": exp.last_update_time}
    table = experiments
    if exists:
        conn.execute(update(table).where(table.c.experiment_id == exp.experiment_id).values(**values))
        conn.execute(delete(experiment_tags).where(experiment_tags.c.experiment_id == exp.experiment_id))
    else:
        insert_ignore_rows(conn, table, [(exp.experiment_id, exp.artifact_location, *values.values())],
                           columns=["experiment_id", "artifact_location", *values])
    insert_ignore_rows(conn, experiment_tags, [(exp.experiment_id, k, v) for k, v in exp.tags.items()],
                       columns=["experiment_id", "key", "value"])
