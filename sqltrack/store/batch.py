"""Writing params, tags and metric points, keeping latest_metrics and its aggregates in step.

One call writes everything in one transaction: either all of a batch is stored or
none of it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, and_, bindparam, select, update

from ..errors import InvalidParameter, ParamConflict
from ..entities import Metric
from . import values as V
from .dialect import insert_ignore_rows, upsert_rows
from .keys import key_ids
from .schema import latest_metrics, metrics, params, runs, tags
from .validation import (_GOOD_KEYS, MAX_BATCH_POINTS, validate_key, validate_metric_value, validate_param_value,
                         validate_step, validate_tag_value, validate_timestamp)

RUN_NAME_TAG = "mlflow.runName"


class Point(NamedTuple):
    """A validated metric point, ready to store."""

    key: str
    step: int
    timestamp: int
    value: float  # the exact value (NaN/inf included)


_MAX_INT64 = 2**63


def make_point(key: str, value: object, timestamp: object, step: object) -> Point:
    """Validate one metric point; the common case (str key seen before, float, ints) costs ~1 µs."""
    if (type(value) is float and type(step) is int and type(timestamp) is int and key in _GOOD_KEYS
            and -_MAX_INT64 <= step < _MAX_INT64 and 0 <= timestamp < _MAX_INT64):
        return Point(key, step, timestamp, value)
    return Point(validate_key(key, "metric"), validate_step(key, step), validate_timestamp(key, timestamp),
                 validate_metric_value(key, value))


def prepare_points(items: Iterable[Metric]) -> list[Point]:
    """Validate metric points before any transaction starts."""
    points = [make_point(m.key, m.value, m.timestamp, m.step) for m in items]
    if len(points) > MAX_BATCH_POINTS:
        raise InvalidParameter(f"A batch holds {len(points):,} metric points; the limit is {MAX_BATCH_POINTS:,} "
                               "per call. Split it into several calls.")
    return points


def prepare_params(items: Mapping[str, object]) -> dict[str, str]:
    return {validate_key(k, "param"): validate_param_value(k, v) for k, v in items.items()}


def prepare_tags(items: Mapping[str, object]) -> dict[str, str]:
    return {validate_key(k, "tag"): validate_tag_value(k, v) for k, v in items.items()}


def write_batch(store, conn: Connection, rid: int, run_id: str, points: Sequence[Point],
                params_: Mapping[str, str], tags_: Mapping[str, str], now: int) -> None:
    """Write one run's batch inside the caller's transaction."""
    write_params(store, conn, rid, run_id, params_)
    write_tags(store, conn, rid, tags_)
    write_points(store, conn, rid, points)
    conn.execute(_TOUCH_RUN, {"b_rid": rid, "b_now": now})


_SELECT_PARAMS = select(params.c.key_id, params.c.value).where(
    params.c.run_id == bindparam("rid"), params.c.key_id.in_(bindparam("kids", expanding=True)))
_TOUCH_RUN = update(runs).where(runs.c.id == bindparam("b_rid")).values(last_activity_time=bindparam("b_now"))
_SELECT_LATEST = select(latest_metrics).where(
    latest_metrics.c.run_id == bindparam("rid"), latest_metrics.c.key_id.in_(bindparam("kids", expanding=True)))


def write_params(store, conn: Connection, rid: int, run_id: str, items: Mapping[str, str]) -> None:
    """Insert params; re-logging the same value is fine, a different one raises ParamConflict."""
    if not items:
        return
    ids = key_ids(store, conn, items)
    by_id = {ids[k]: k for k in items}
    existing = conn.execute(_SELECT_PARAMS, {"rid": rid, "kids": list(by_id)})
    for key_id, old in existing:
        key = by_id[key_id]
        if old != items[key]:
            raise ParamConflict(
                f"Changing param values is not allowed: param {key!r} of run {run_id} was already logged with "
                f"value {_short(old)!r}, and now {_short(items[key])!r}. Params are write-once; log the new value "
                "under another key, or start a new run.")
    rows = [(rid, ids[k], v, V.param_number(v)) for k, v in items.items()]
    insert_ignore_rows(conn, params, rows)


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def write_tags(store, conn: Connection, rid: int, items: Mapping[str, str]) -> None:
    """Upsert tags; the mlflow.runName tag also renames the run."""
    if not items:
        return
    ids = key_ids(store, conn, items)
    upsert_rows(conn, tags, [{"run_id": rid, "key_id": ids[k], "value": v} for k, v in items.items()],
                update=["value"])
    if RUN_NAME_TAG in items:
        conn.execute(update(runs).where(runs.c.id == rid).values(name=items[RUN_NAME_TAG][:250]))


def write_points(store, conn: Connection, rid: int, points: Sequence[Point]) -> None:
    """Insert metric points (exact duplicates are ignored) and refresh latest_metrics."""
    if not points:
        return
    native = store.rules.native_inf
    ids = key_ids(store, conn, {p.key for p in points})
    encode = V.encode_metric
    unique: dict[tuple, Point] = {}
    by_key: dict[int, list[Point]] = {}
    for point in points:
        kid, value = ids[point.key], point.value
        if value - value == 0.0 and value != 0.0:  # finite and non-zero: stored as is (the usual case)
            row = (rid, kid, point.step, point.timestamp, value, V.FINITE)
        else:
            row = (rid, kid, point.step, point.timestamp) + encode(value, native)
        if row not in unique:
            unique[row] = point
            by_key.setdefault(kid, []).append(point)
    inserted_all = _insert_points(conn, list(unique)) == len(unique)
    if inserted_all:
        _merge_latest(conn, rid, by_key, native)
    else:  # some points were already stored: recount those keys from the history
        _recompute_latest(conn, rid, list(by_key), native)


def _insert_points(conn: Connection, rows: list[tuple]) -> int:
    """Insert and return how many rows were new (-1 when the driver cannot tell)."""
    if conn.dialect.name == "sqlite":
        result = conn.exec_driver_sql(
            "INSERT OR IGNORE INTO metrics (run_id, key_id, step, timestamp, value, kind) VALUES (?, ?, ?, ?, ?, ?)",
            rows)
        return result.rowcount
    insert_ignore_rows(conn, metrics, rows)
    return -1


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

    def row(self, rid: int, kid: int, native: bool) -> dict:
        value, kind = V.encode_metric(self.latest.value, native)
        first_value, first_kind = V.encode_metric(self.first.value, native)
        n = self.count - self.nan_count
        avg = None if not n or self.total is None else self.total / n
        return {"run_id": rid, "key_id": kid, "step": self.latest.step, "timestamp": self.latest.timestamp,
                "value": value, "kind": kind, "min_value": _agg_float(self.low, native),
                "max_value": _agg_float(self.high, native), "avg_value": _agg_float(avg, native),
                "sum_value": _agg_float(self.total, native), "first_value": first_value, "first_kind": first_kind,
                "first_step": self.first.step, "first_timestamp": self.first.timestamp,
                "count": self.count, "nan_count": self.nan_count}


_LATEST_COLUMNS = [c.name for c in latest_metrics.columns if c.name not in ("run_id", "key_id")]


def _merge_latest(conn: Connection, rid: int, by_key: dict[int, list[Point]], native: bool) -> None:
    existing = _read_summaries(conn, rid, list(by_key), native)
    rows = []
    for kid, points in by_key.items():
        summary = _Summary.of(points)
        if kid in existing:
            summary = existing[kid].merge(summary)
        rows.append(summary.row(rid, kid, native))
    upsert_rows(conn, latest_metrics, rows, update=_LATEST_COLUMNS)


def _read_summaries(conn: Connection, rid: int, kids: list[int], native: bool) -> dict[int, _Summary]:
    rows = conn.execute(_SELECT_LATEST, {"rid": rid, "kids": kids})
    result = {}
    for r in rows:
        latest = Point("", r.step, r.timestamp, V.decode_metric(r.value, r.kind))
        first = Point("", r.first_step, r.first_timestamp, V.decode_metric(r.first_value, r.first_kind))
        restore = (lambda v: v) if native else _restore_inf
        result[r.key_id] = _Summary(latest, first, r.count, r.nan_count, restore(r.sum_value),
                                    restore(r.min_value), restore(r.max_value))
    return result


def _restore_inf(value: float | None) -> float | None:
    """Backends without ±inf store it as ±max-float in aggregate columns."""
    if value is not None and abs(value) >= V.MAX_FLOAT:
        return math.copysign(math.inf, value)
    return value


def _recompute_latest(conn: Connection, rid: int, kids: list[int], native: bool) -> None:
    m = metrics.c
    rows = []
    for kid in kids:
        history = conn.execute(select(m.step, m.timestamp, m.value, m.kind)
                               .where(and_(m.run_id == rid, m.key_id == kid))).all()
        points = [Point("", s, t, V.decode_metric(v, k)) for s, t, v, k in history]
        rows.append(_Summary.of(points).row(rid, kid, native))
    upsert_rows(conn, latest_metrics, rows, update=_LATEST_COLUMNS)
