"""Reading runs (one or thousands at once) and metric histories."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from itertools import repeat
from typing import Sequence

from sqlalchemy import Connection, select

from ..entities import Metric, Run, RunData, RunInfo
from . import values as V
from .keys import key_ids
from .runs import run_internal_id
from .schema import key_names, latest_metrics, metrics, params, runs, tags

_CHUNK = 900  # bound values per IN (…): safe on every backend


@contextmanager
def _gc_paused(big: bool):
    """Pause the cyclic garbage collector while a large result is built.

    Building a million tuples (or 10,000 runs' dicts) makes CPython 3.11 run its full
    collection again and again over objects that are all alive (≈ 40% of a 1M-point history).
    Reference counting still frees everything; the collector resumes afterwards, and is left
    alone if the program had disabled it.
    """
    pause = big and gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause:
            gc.enable()


def load_runs(conn: Connection, ids: Sequence[int]) -> list[Run]:
    """Load runs by internal id, in the order given, with params, tags and latest metrics."""
    if not ids:
        return []
    with _gc_paused(len(ids) > 1000):
        return _load_runs(conn, ids)


def _load_runs(conn: Connection, ids: Sequence[int]) -> list[Run]:
    infos: dict[int, RunInfo] = {}
    data: dict[int, tuple[dict, dict, dict]] = {i: ({}, {}, {}) for i in ids}
    sqlite = conn.dialect.name == "sqlite"
    for chunk in _chunks(list(ids)):
        if sqlite:
            _load_sqlite(conn, chunk, infos, data)
            continue
        for row in conn.execute(select(runs).where(runs.c.id.in_(chunk))):
            infos[row.id] = _info(row)
        _load_values(conn, chunk, data)
    return [Run(infos[i], RunData(*data[i])) for i in ids if i in infos]


def _chunks(ids: list[int]):
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _info(row) -> RunInfo:
    return RunInfo(run_id=row.run_uuid, experiment_id=str(row.experiment_id), run_name=row.name,
                   user_id=row.user_id, status=row.status, start_time=row.start_time, end_time=row.end_time,
                   artifact_uri=row.artifact_uri, lifecycle_stage=row.lifecycle_stage)


def _load_values(conn: Connection, chunk: list[int], data: dict) -> None:
    lm = latest_metrics.c
    query = (select(lm.run_id, key_names.c.name, lm.value, lm.kind)
             .join_from(latest_metrics, key_names, key_names.c.id == lm.key_id).where(lm.run_id.in_(chunk)))
    for rid, key, value, kind in conn.execute(query):
        data[rid][0][key] = V.decode_metric(value, kind)
    for slot, table in ((1, params), (2, tags)):
        query = (select(table.c.run_id, key_names.c.name, table.c.value)
                 .join_from(table, key_names, key_names.c.id == table.c.key_id).where(table.c.run_id.in_(chunk)))
        for rid, key, value in conn.execute(query):
            data[rid][slot][key] = value


_RUNS_SQL = ("SELECT id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, "
             "lifecycle_stage FROM runs WHERE id IN ({marks})")
_METRICS_SQL = ("SELECT latest_metrics.run_id, key_names.name, latest_metrics.value, latest_metrics.kind "
                "FROM latest_metrics JOIN key_names ON key_names.id = latest_metrics.key_id "
                "WHERE latest_metrics.run_id IN ({marks})")
_VALUES_SQL = ("SELECT {table}.run_id, key_names.name, {table}.value FROM {table} "
               "JOIN key_names ON key_names.id = {table}.key_id WHERE {table}.run_id IN ({marks})")


def _load_sqlite(conn: Connection, chunk: list[int], infos: dict, data: dict) -> None:
    """The same queries as the portable path, through the driver's cursor: plain tuples, no Row objects."""
    marks = ", ".join("?" * len(chunk))
    cursor = conn.connection.cursor()
    try:
        for rid, uuid, eid, name, user, status, start, end, uri, stage in cursor.execute(
                _RUNS_SQL.format(marks=marks), chunk):
            infos[rid] = RunInfo(uuid, str(eid), name, user, status, start, end, uri, stage)
        decode = V.decode_metric
        for rid, key, value, kind in cursor.execute(_METRICS_SQL.format(marks=marks), chunk):
            data[rid][0][key] = decode(value, kind) if kind else value
        for slot, table in ((1, "params"), (2, "tags")):
            for rid, key, value in cursor.execute(_VALUES_SQL.format(table=table, marks=marks), chunk):
                data[rid][slot][key] = value
    finally:
        cursor.close()


def get_run(store, run_id: str) -> Run:
    """One run by its id, or RunNotFound."""
    return store.read(lambda conn: load_runs(conn, [run_internal_id(store, conn, run_id)])[0])


def metric_history(store, run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run, ordered by step then timestamp."""

    def unit(conn: Connection) -> list[Metric]:
        rid = run_internal_id(store, conn, run_id)
        kid = key_ids(store, conn, [key], create=False).get(key)
        if kid is None:
            return []
        return history_points(conn, rid, kid, key)

    return store.read(unit)


_HISTORY_SQL = ("SELECT step, timestamp, value, kind FROM metrics WHERE run_id = ? AND key_id = ? "
                "ORDER BY step, timestamp")
# The same rows already in Metric's field order (key, value, timestamp, step), for histories
# without NaN/±inf/-0.0 (kind is in the primary key, so the check reads no table rows).
_PLAIN_HISTORY_SQL = ("SELECT ?, value, timestamp, step FROM metrics WHERE run_id = ? AND key_id = ? "
                      "ORDER BY step, timestamp")
_HAS_SPECIAL_SQL = "SELECT EXISTS (SELECT 1 FROM metrics WHERE run_id = ? AND key_id = ? AND kind != 0)"
_METRIC_IS_TUPLE = issubclass(Metric, tuple) and Metric._fields == ("key", "value", "timestamp", "step")


def history_points(conn: Connection, rid: int, kid: int, key: str) -> list[Metric]:
    """The points of one metric as Metric objects (the primary key's order: no sort step).

    On SQLite the rows come straight from the driver's cursor. When no point of the metric
    is NaN, ±inf or -0.0 (the usual case), the driver returns them in Metric's field order
    and each row becomes a Metric in C (``tuple.__new__``); otherwise values are decoded.
    """
    if conn.dialect.name != "sqlite":
        m = metrics.c
        rows = conn.execute(select(m.step, m.timestamp, m.value, m.kind)
                            .where(m.run_id == rid, m.key_id == kid).order_by(m.step, m.timestamp)).all()
        return _decoded(rows, key)
    cursor = conn.connection.cursor()
    try:
        with _gc_paused(True):
            return _sqlite_history(cursor, rid, kid, key)
    finally:
        cursor.close()


def _sqlite_history(cursor, rid: int, kid: int, key: str) -> list[Metric]:
    if _METRIC_IS_TUPLE and not cursor.execute(_HAS_SPECIAL_SQL, (rid, kid)).fetchone()[0]:
        rows = cursor.execute(_PLAIN_HISTORY_SQL, (key, rid, kid)).fetchall()
        return list(map(tuple.__new__, repeat(Metric), rows))
    return _decoded(cursor.execute(_HISTORY_SQL, (rid, kid)).fetchall(), key)


def _decoded(rows: list, key: str) -> list[Metric]:
    if not rows:
        return []
    steps, stamps, values, kinds = zip(*rows)
    if any(kinds):
        values = map(V.decode_metric, values, kinds)
    return list(map(Metric, repeat(key), values, stamps, steps))
