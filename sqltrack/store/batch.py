"""Writing params, tags and metric points, keeping latest_metrics and its aggregates in step.

One call writes everything in one transaction: either all of a batch is stored or
none of it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Iterable, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, and_, bindparam, select, update

from ..entities import Metric
from ..errors import InvalidParameter, ParamConflict
from . import sqlite_path as SQ
from . import values as V
from .dialect import insert_ignore_rows, upsert_rows
from .keys import key_ids
from .runs import require_updated
from .tables import tables
from .validation import (
    _GOOD_KEYS,
    MAX_BATCH_POINTS,
    validate_key,
    validate_metric_value,
    validate_param_value,
    validate_step,
    validate_tag_value,
    validate_timestamp,
)

RUN_NAME_TAG = "mlflow.runName"


class Point(NamedTuple):
    """A validated metric point, ready to store."""

    key: str
    step: int
    timestamp: int
    value: float  # the exact value (NaN/inf included)


_MAX_INT64 = 2**63
_IN_CHUNK = 500  # bound values per IN (...)


def make_point(key: str, value: object, timestamp: object, step: object) -> Point:
    """Validate one metric point; the common case (str key seen before, float, ints) costs ~1 µs."""
    if (type(value) is float and type(step) is int and type(timestamp) is int and key in _GOOD_KEYS
            and -_MAX_INT64 <= step < _MAX_INT64 and 0 <= timestamp < _MAX_INT64):
        return Point(key, step, timestamp, value)
    return Point(validate_key(key, "metric"), validate_step(key, step), validate_timestamp(key, timestamp),
                 validate_metric_value(key, value))


def prepare_points(items: Iterable[Metric]) -> list[Point]:
    """Validate metric points before any transaction starts.

    Returns ``(key, step, timestamp, value)`` tuples (``Point``-shaped). A batch of known keys,
    float values and int steps/timestamps in range is checked column by column at C speed;
    anything else goes point by point through ``make_point``.
    """
    rows = list(map(_METRIC_FIELDS, items))
    if len(rows) > MAX_BATCH_POINTS:
        raise InvalidParameter(f"A batch holds {len(rows):,} metric points; the limit is {MAX_BATCH_POINTS:,} "
                               "per call. Split it into several calls.")
    if rows and _plain_columns(*zip(*rows, strict=False)):
        return rows
    return [make_point(key, value, timestamp, step) for key, step, timestamp, value in rows]


_METRIC_FIELDS = attrgetter("key", "step", "timestamp", "value")


def _plain_columns(keys: tuple, steps: tuple, stamps: tuple, values: tuple) -> bool:
    """True when every point passes ``make_point``'s fast checks."""
    return (set(map(type, values)) == {float} and set(map(type, steps)) == {int}
            and set(map(type, stamps)) == {int} and _GOOD_KEYS.issuperset(keys)
            and -_MAX_INT64 <= min(steps) and max(steps) < _MAX_INT64
            and 0 <= min(stamps) and max(stamps) < _MAX_INT64)


def prepare_params(items: Mapping[str, object]) -> dict[str, str]:
    return {validate_key(k, "param"): validate_param_value(k, v) for k, v in items.items()}


def prepare_tags(items: Mapping[str, object]) -> dict[str, str]:
    return {validate_key(k, "tag"): validate_tag_value(k, v) for k, v in items.items()}


def write_batch(store, conn: Connection, rid: int, run_id: str, points: Sequence[Point],
                params_: Mapping[str, str], tags_: Mapping[str, str], now: int,
                prepared: PointRows | None = None, touch: bool = True) -> None:
    """Write one run's batch inside the caller's transaction.

    ``prepared``: the points' rows made before the transaction (``prepare_point_rows``);
    ``touch=False`` when the caller updates the run's row anyway (ending it sets the activity time).
    """
    if touch:
        touch_run(conn, rid, run_id, now)
    write_params(store, conn, rid, run_id, params_)
    write_tags(store, conn, rid, tags_)
    write_points(store, conn, rid, points, prepared)


def touch_run(conn: Connection, rid: int, run_id: str, now: int) -> None:
    """Stamp a run's last activity, or raise RunNotFound if it is gone (see ``require_updated``)."""
    if SQ.is_sqlite(conn):
        changed = SQ.execute(conn, SQ.TOUCH_RUN, (now, rid, run_id)).rowcount
    else:
        changed = conn.execute(_touch_run_sql(), {"b_rid": rid, "b_uuid": run_id, "b_now": now}).rowcount
    require_updated(changed, run_id)


# Core statements are built on first use, not at import: the SQLite paths rarely need them,
# and building them at import costs a cold start tens of milliseconds.
@cache
def _select_params_sql():
    p = tables.params.c
    return select(p.key_id, p.value).where(p.run_id == bindparam("rid"),
                                           p.key_id.in_(bindparam("kids", expanding=True)))


@cache
def _rename_run_sql():
    runs = tables.runs
    return update(runs).where(runs.c.id == bindparam("b_rid")).values(name=bindparam("b_name"))


@cache
def _touch_run_sql():
    runs = tables.runs
    return (update(runs).where(runs.c.id == bindparam("b_rid"), runs.c.run_uuid == bindparam("b_uuid"))
            .values(last_activity_time=bindparam("b_now")))


def write_params(store, conn: Connection, rid: int, run_id: str, items: Mapping[str, str]) -> None:
    """Insert params; re-logging the same value is fine, a different one raises ParamConflict.

    On SQLite the rows are inserted first (INSERT OR IGNORE) and only when some were already
    there are the stored values read back and compared; a conflict raises inside the
    transaction, so nothing of the batch is kept.
    """
    if not items:
        return
    ids = key_ids(store, conn, items)
    rows = [(rid, ids[k], v, V.param_number(v)) for k, v in items.items()]
    if SQ.is_sqlite(conn):
        if SQ.executemany(conn, SQ.INSERT_PARAMS, rows) != len(rows):
            _check_params(conn, rid, run_id, ids, items)
        return
    _check_params(conn, rid, run_id, ids, items)
    insert_ignore_rows(conn, tables.params, rows)


def _check_params(conn: Connection, rid: int, run_id: str, ids: Mapping[str, int], items: Mapping[str, str]) -> None:
    by_id = {ids[k]: k for k in items}
    kids = list(by_id)
    for start in range(0, len(kids), _IN_CHUNK):
        existing = conn.execute(_select_params_sql(), {"rid": rid, "kids": kids[start:start + _IN_CHUNK]})
        for key_id, old in existing:
            key = by_id[key_id]
            if old != items[key]:
                raise ParamConflict(
                    f"Changing param values is not allowed: param {key!r} of run {run_id} was already logged with "
                    f"value {_short(old)!r}, and now {_short(items[key])!r}. Params are write-once; log the new "
                    "value under another key, or start a new run.")


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def write_tags(store, conn: Connection, rid: int, items: Mapping[str, str], *, rename: bool = True) -> None:
    """Upsert tags; the mlflow.runName tag also renames the run (``rename=False``: it has that name already)."""
    if not items:
        return
    ids = key_ids(store, conn, items)
    sqlite = SQ.is_sqlite(conn)
    if sqlite:
        SQ.executemany(conn, SQ.UPSERT_TAGS, [(rid, ids[k], v) for k, v in items.items()])
    else:
        upsert_rows(conn, tables.tags, [{"run_id": rid, "key_id": ids[k], "value": v} for k, v in items.items()],
                    update=["value"])
    if rename and RUN_NAME_TAG in items:
        if sqlite:
            SQ.execute(conn, SQ.RENAME_RUN, (items[RUN_NAME_TAG][:250], rid))
        else:
            conn.execute(_rename_run_sql(), {"b_rid": rid, "b_name": items[RUN_NAME_TAG][:250]})


class PointRows(NamedTuple):
    """A batch's metric rows and per-key summaries, ready to write into run ``rid``."""

    rid: int
    ordered: list[tuple]  # distinct rows in primary-key order
    unique: list[tuple]  # the same rows in logging order
    summaries: dict[int, "_Summary"]  # key id -> summary of this batch's points
    latest: dict[int, tuple]  # key id -> its latest_metrics row if the run has no earlier points of it


def point_rows(rid: int, ids: Mapping[str, int], points: Sequence[Point], native: bool) -> PointRows:
    """The rows of ``points`` (key names mapped by ``ids``): deduplicated, sorted and summarised."""
    encode = V.encode_metric
    # finite non-zero values (the usual case) are stored as they are, with kind FINITE (0)
    rows = [(rid, ids[k], s, t, v, 0) if v - v == 0.0 and v != 0.0 else (rid, ids[k], s, t) + encode(v, native)
            for k, s, t, v in points]
    unique = list(dict.fromkeys(rows))  # exact duplicates once, first occurrence first
    ordered = sorted(unique)
    summaries = _summaries(ordered, unique, native)
    latest = {kid: summary.row(rid, kid, native) for kid, summary in summaries.items()}
    return PointRows(rid, ordered, unique, summaries, latest)


def prepare_point_rows(store, run_id: str, points: Sequence[Point]) -> PointRows | None:
    """``point_rows`` made before the write transaction, when the run's and every key's id are cached.

    Only one process writes a SQLite file at a time: what is computed here, outside the
    write lock, other processes' writes do not wait for. None when an id must be read
    (or created) first; the transaction then makes the rows itself.
    """
    rid = store.cached_run_id(run_id)
    if rid is None or not points:
        return None
    ids = {key: store.cached_key_id(key) for key in {p[0] for p in points}}
    if None in ids.values():
        return None
    return point_rows(rid, ids, points, store.rules.native_inf)


def write_points(store, conn: Connection, rid: int, points: Sequence[Point], prepared: PointRows | None = None) -> None:
    """Insert metric points (exact duplicates are ignored) and refresh latest_metrics.

    Rows are inserted in primary-key order (B-tree appends, not page splits all over), and
    each key's summary is read off its sorted rows; see ``_sorted_summary``.
    """
    if not points:
        return
    native = store.rules.native_inf
    if prepared is None or prepared.rid != rid:
        prepared = point_rows(rid, key_ids(store, conn, {p[0] for p in points}), points, native)
    if _insert_points(conn, prepared.ordered) == len(prepared.ordered):
        _merge_latest(conn, prepared, native)
    else:  # some points were already stored: recount those keys from the history
        _recompute_latest(conn, rid, prepared.unique, native)


def _summaries(ordered: list[tuple], unique: list[tuple], native: bool) -> dict[int, "_Summary"]:
    """Each key's summary from its rows in primary-key order (``unique``: the same rows in logging order)."""
    result = {}
    for kid, group in groupby(ordered, itemgetter(1)):
        rows = list(group)
        summary = _sorted_summary(rows, native)
        if summary is None:  # a tie between distinct values: MLflow keeps the one logged first
            summary = _Summary.of([Point("", r[2], r[3], V.decode_metric(r[4], r[5])) for r in unique if r[1] == kid])
        result[kid] = summary
    return result


def _sorted_summary(rows: list[tuple], native: bool) -> "_Summary | None":
    """The summary of one key's rows sorted by (step, timestamp, stored value, kind), or None on a tie.

    The stored value orders like MLflow's "latest" order (NaN is stored as 0, -0.0 as 0 and,
    without native ±inf, ±inf as ±max-float), so the last row is the latest point and the
    first row the first point, unless its (step, timestamp, stored value) equals its
    neighbour's: then the order of logging decides, and the caller takes the exact path.
    """
    last, first = rows[-1], rows[0]
    if len(rows) > 1 and (rows[-2][2:5] == last[2:5] or rows[1][2:5] == first[2:5]):
        return None
    if any(row[5] for row in rows):  # NaN, ±inf or -0.0 somewhere
        if not native:
            return None
        values = [V.decode_metric(row[4], row[5]) for row in rows]
        finite = [v for v in values if v == v]
        latest, earliest = values[-1], values[0]
    else:
        finite = [row[4] for row in rows]
        latest, earliest = last[4], first[4]
    return _Summary(latest=Point("", last[2], last[3], latest), first=Point("", first[2], first[3], earliest),
                    count=len(rows), nan_count=len(rows) - len(finite),
                    total=sum(finite) if finite else None,
                    low=min(finite) if finite else None, high=max(finite) if finite else None)


def _insert_points(conn: Connection, rows: list[tuple]) -> int:
    """Insert and return how many rows were new (exact on every backend: see insert_ignore_rows)."""
    if SQ.is_sqlite(conn):
        return SQ.executemany(conn, SQ.INSERT_POINTS, rows)
    return insert_ignore_rows(conn, tables.metrics, rows)


def _latest_order(step: int, timestamp: int, value: float) -> tuple:
    """MLflow's "latest" is the max by (step, timestamp, value), NaN counting as 0; "first" is the min."""
    return (step, timestamp, 0.0 if value != value else value)


def _agg_float(value: float | None, native: bool) -> float | None:
    if value is None or value != value:
        return None
    if not native and math.isinf(value):
        return math.copysign(V.MAX_FLOAT, value)
    return value


@dataclass
class _Summary:
    latest: Point
    first: Point
    count: int
    nan_count: int
    total: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, points: Sequence[Point]) -> "_Summary":
        finite = [p.value for p in points if p.value == p.value]
        return cls(latest=max(points, key=lambda p: _latest_order(p.step, p.timestamp, p.value)),
                   first=min(points, key=lambda p: _latest_order(p.step, p.timestamp, p.value)),
                   count=len(points), nan_count=len(points) - len(finite),
                   total=sum(finite) if finite else None,
                   low=min(finite) if finite else None, high=max(finite) if finite else None)

    def merge(self, other: "_Summary") -> "_Summary":
        keyf = lambda p: _latest_order(p.step, p.timestamp, p.value)  # noqa: E731
        pick = lambda a, b, f: b if a is None else a if b is None else f(a, b)  # noqa: E731
        return _Summary(latest=max(self.latest, other.latest, key=keyf),
                        first=min(self.first, other.first, key=keyf),
                        count=self.count + other.count, nan_count=self.nan_count + other.nan_count,
                        total=pick(self.total, other.total, lambda a, b: a + b),
                        low=pick(self.low, other.low, min), high=pick(self.high, other.high, max))

    def row(self, rid: int, kid: int, native: bool) -> tuple:
        """The latest_metrics row, in the table's column order (``LATEST_ROW_NAMES``)."""
        value, kind = V.encode_metric(self.latest.value, native)
        first_value, first_kind = V.encode_metric(self.first.value, native)
        n = self.count - self.nan_count
        avg = None if not n or self.total is None else self.total / n
        return (rid, kid, self.latest.step, self.latest.timestamp, value, kind, _agg_float(self.low, native),
                _agg_float(self.high, native), _agg_float(avg, native), _agg_float(self.total, native),
                first_value, first_kind, self.first.step, self.first.timestamp, self.count, self.nan_count)


_LATEST_COLUMNS = SQ.LATEST_COLUMNS
#: The columns of ``_Summary.row``.
LATEST_ROW_NAMES = ("run_id", "key_id", *_LATEST_COLUMNS)


@cache
def _select_latest_sql():
    lm = tables.latest_metrics.c
    return select(lm.key_id, *(lm[c] for c in _LATEST_COLUMNS)).where(
        lm.run_id == bindparam("rid"), lm.key_id.in_(bindparam("kids", expanding=True)))


def _merge_latest(conn: Connection, prepared: PointRows, native: bool) -> None:
    """Upsert each key's latest_metrics row: the batch's own (made ahead) for a key new to the run,
    else the stored summary merged with the batch's."""
    rid, summaries = prepared.rid, prepared.summaries
    existing = _read_summaries(conn, rid, list(summaries), native)
    _upsert_latest(conn, [existing[kid].merge(summary).row(rid, kid, native) if kid in existing
                          else prepared.latest[kid] for kid, summary in summaries.items()])


def _upsert_latest(conn: Connection, rows: list[tuple]) -> None:
    if SQ.is_sqlite(conn):  # Core's dict-based upsert costs more than the insert
        SQ.executemany(conn, SQ.UPSERT_LATEST, rows)
    else:
        upsert_rows(conn, tables.latest_metrics, [dict(zip(LATEST_ROW_NAMES, row, strict=True)) for row in rows],
                    update=_LATEST_COLUMNS)


def _read_summaries(conn: Connection, rid: int, kids: list[int], native: bool) -> dict[int, _Summary]:
    result = {}
    for start in range(0, len(kids), _IN_CHUNK):
        chunk = kids[start:start + _IN_CHUNK]
        if SQ.is_sqlite(conn):
            rows = SQ.execute(conn, SQ.SELECT_LATEST.format(marks=", ".join("?" * len(chunk))), (rid, *chunk))
        else:
            rows = conn.execute(_select_latest_sql(), {"rid": rid, "kids": chunk})
        restore = (lambda v: v) if native else _restore_inf
        for (key_id, step, timestamp, value, kind, low, high, _avg, total, first_value, first_kind, first_step,
             first_timestamp, count, nan_count) in rows:
            latest = Point("", step, timestamp, V.decode_metric(value, kind))
            first = Point("", first_step, first_timestamp, V.decode_metric(first_value, first_kind))
            result[key_id] = _Summary(latest, first, count, nan_count, restore(total), restore(low), restore(high))
    return result


def _restore_inf(value: float | None) -> float | None:
    """Backends without ±inf store it as ±max-float in aggregate columns."""
    if value is not None and abs(value) >= V.MAX_FLOAT:
        return math.copysign(math.inf, value)
    return value


def _recompute_latest(conn: Connection, rid: int, unique: list[tuple], native: bool) -> None:
    """Recount the keys of a batch from their whole history (some points of the batch were stored already).

    Ties in the latest/first order are broken as MLflow does, by logging order: a stored
    latest (or first) point was logged before this batch, so it wins a tie; otherwise the
    point logged first in this batch does.
    """
    m = tables.metrics.c
    kids = list(dict.fromkeys(row[1] for row in unique))
    before = _read_summaries(conn, rid, kids, native)
    rows = []
    for kid in kids:
        history = conn.execute(select(m.step, m.timestamp, m.value, m.kind)
                               .where(and_(m.run_id == rid, m.key_id == kid))).all()
        summary = _Summary.of([Point("", s, t, V.decode_metric(v, k)) for s, t, v, k in history])
        logged = [Point("", r[2], r[3], V.decode_metric(r[4], r[5])) for r in unique if r[1] == kid]
        old = before.get(kid)
        summary.latest = _first_logged(summary.latest, old.latest if old else None, logged)
        summary.first = _first_logged(summary.first, old.first if old else None, logged)
        rows.append(summary.row(rid, kid, native))
    _upsert_latest(conn, rows)


def _first_logged(best: Point, stored: Point | None, logged: list[Point]) -> Point:
    """Among the points that tie with ``best`` in the latest order, the one logged first."""
    order = _latest_order(*best[1:])
    if stored is not None and _latest_order(*stored[1:]) == order:
        return stored
    return next((p for p in logged if _latest_order(*p[1:]) == order), best)
