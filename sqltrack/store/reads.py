"""Reading runs (one or thousands at once) and metric histories."""

from __future__ import annotations

import gc
import json
import sqlite3
from contextlib import closing, contextmanager
from itertools import repeat
from operator import add
from typing import Any, Iterator, NamedTuple, Sequence

from sqlalchemy import Connection, select

from ..entities import Metric, Run, RunData, RunInfo
from ..errors import StoreError
from . import values as V
from .engine import WRITE_OPTION
from .keys import key_ids
from .runs import live_run_id, purged_run, run_internal_id
from .tables import tables

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
        for row in conn.execute(select(tables.runs).where(tables.runs.c.id.in_(chunk))):
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
    for slot, rid, _, key, value in _value_rows(conn, chunk):
        data[rid][slot][key] = value


def _value_rows(conn: Connection, chunk: list[int]) -> Iterator[tuple[int, int, int, str, Any]]:
    """``(slot, run id, key id, key, value)`` of the chunk's metrics (slot 0, decoded), params (1) and tags (2).

    Each run's keys come in key id order, as on SQLite (see ``_load_sqlite``), so that every
    backend orders a run's dicts, and a frame's columns, alike.
    """
    key_names, lm = tables.key_names, tables.latest_metrics.c
    query = (select(lm.run_id, lm.key_id, key_names.c.name, lm.value, lm.kind)
             .join_from(tables.latest_metrics, key_names, key_names.c.id == lm.key_id).where(lm.run_id.in_(chunk))
             .order_by(lm.run_id, lm.key_id))
    for rid, kid, key, value, kind in conn.execute(query):
        yield 0, rid, kid, key, V.decode_metric(value, kind)
    for slot, table in ((1, tables.params), (2, tables.tags)):
        query = (select(table.c.run_id, table.c.key_id, key_names.c.name, table.c.value)
                 .join_from(table, key_names, key_names.c.id == table.c.key_id).where(table.c.run_id.in_(chunk))
                 .order_by(table.c.run_id, table.c.key_id))
        for rid, kid, key, value in conn.execute(query):
            yield slot, rid, kid, key, value


_RUNS_SQL = ("SELECT id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, "
             "lifecycle_stage FROM runs WHERE id IN ({marks})")
_METRICS_SQL = ("SELECT run_id, key_id, value, kind FROM latest_metrics WHERE run_id IN ({marks}) "
                "ORDER BY run_id, key_id")
_VALUES_SQL = "SELECT run_id, key_id, value FROM {table} WHERE run_id IN ({marks}) ORDER BY run_id, key_id"
_CHUNK_NAMES_SQL = ("SELECT id, name FROM key_names WHERE id IN (SELECT key_id FROM latest_metrics WHERE run_id "
                    "IN ({marks}) UNION SELECT key_id FROM params WHERE run_id IN ({marks}) "
                    "UNION SELECT key_id FROM tags WHERE run_id IN ({marks}))")
_NAMES_INFO = "sqltrack_key_names"


def _load_sqlite(conn: Connection, chunk: list[int], infos: dict, data: dict) -> None:
    """The same queries as the portable path, through the driver's cursor: plain tuples, no Row objects.

    Key names come from the connection's cache (``_key_names``) instead of a join per row
    (10% of loading 1,000 runs); a key it has not seen yet makes it learn the chunk's names
    and load the chunk again.
    """
    marks = ", ".join(f"?{i}" for i in range(1, len(chunk) + 1))  # numbered: _CHUNK_NAMES_SQL uses each thrice
    names = _key_names(conn)
    with closing(conn.connection.cursor()) as cursor:
        try:
            return _load_sqlite_chunk(cursor, marks, chunk, infos, data, names)
        except KeyError:
            names.update(cursor.execute(_CHUNK_NAMES_SQL.format(marks=marks), chunk))
            data.update({rid: ({}, {}, {}) for rid in chunk})
        try:
            _load_sqlite_chunk(cursor, marks, chunk, infos, data, names)
        except KeyError as missing:
            raise StoreError(
                f"The store {conn.engine.url.database} is damaged: some run values refer to key id {missing}, whose "
                "name is missing from its key_names table. Nothing was changed; restore the store from a backup "
                "('PRAGMA foreign_key_check' in the sqlite3 shell lists the affected rows).") from None


def _load_sqlite_chunk(cursor, marks: str, chunk: list[int], infos: dict, data: dict, names: dict) -> None:
    """``ORDER BY run_id, key_id`` costs no sort here: the primary key (or its index) is read in that order."""
    for rid, uuid, eid, name, user, status, start, end, uri, stage in cursor.execute(
            _RUNS_SQL.format(marks=marks), chunk):
        infos[rid] = RunInfo(uuid, str(eid), name, user, status, start, end, uri, stage)
    decode = V.decode_metric
    for rid, kid, value, kind in cursor.execute(_METRICS_SQL.format(marks=marks), chunk):
        data[rid][0][names[kid]] = decode(value, kind) if kind else value
    for slot, table in ((1, "params"), (2, "tags")):
        for rid, kid, value in cursor.execute(_VALUES_SQL.format(table=table, marks=marks), chunk):
            data[rid][slot][names[kid]] = value


def _key_names(conn: Connection) -> dict[int, str]:
    """Key names by id, kept with the database connection across read transactions.

    A key id never changes name and is never deleted (gc keeps key_names), so what a read
    transaction saw stays true. A write transaction may see a name whose insert is then rolled
    back and its id reused, so there the dict lives for one call only.
    """
    if conn.get_execution_options().get(WRITE_OPTION):
        return {}
    return conn.info.setdefault(_NAMES_INFO, {})


#: The run attributes of a frame, in MLflow's column order.
INFO_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time")


class FrameColumns(NamedTuple):
    """Runs as columns, one value per run: ``info`` holds INFO_COLUMNS (times in epoch ms);
    ``metrics`` (NaN where missing), ``params`` and ``tags`` (None) map each key to its column."""

    info: dict[str, list]
    metrics: dict[str, Sequence[float]]
    params: dict[str, list]
    tags: dict[str, list]


def load_frame_columns(conn: Connection, ids: Sequence[int]) -> FrameColumns:
    """The columns of runs by internal id, in the order given (ids that are not runs are left out).

    A key's column comes where the first run that has it puts it, and within that run in key id
    order: the order of ``runs_to_frame(load_runs(conn, ids))``, without building a Run per run.
    """
    with _gc_paused(len(ids) > 1000):
        if conn.dialect.name == "sqlite":
            try:
                return _frame_sqlite(conn, list(ids))
            except (sqlite3.OperationalError, sqlite3.DataError) as exc:
                if not _needs_portable(exc):
                    raise
        return _frame_portable(conn, list(ids))


def _needs_portable(exc: Exception) -> bool:
    """An SQLite without JSON functions, or values too long to travel as one JSON text."""
    return "json_each" in str(exc) or "too big" in str(exc)


def _info_columns(rows: list[tuple]) -> dict[str, list]:
    lists = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in INFO_COLUMNS]
    columns = dict(zip(INFO_COLUMNS, lists, strict=True))
    columns["experiment_id"] = list(map(str, columns["experiment_id"]))
    return columns


def _frame_portable(conn: Connection, ids: list[int]) -> FrameColumns:
    found: dict[int, tuple] = {}
    for chunk in _chunks(ids):
        r = tables.runs.c
        query = select(r.id, r.run_uuid, r.experiment_id, r.status, r.artifact_uri, r.start_time, r.end_time)
        found.update((row[0], tuple(row[1:])) for row in conn.execute(query.where(r.id.in_(chunk))))
    ids = [i for i in ids if i in found]
    position = {rid: i for i, rid in enumerate(ids)}
    triples: tuple[tuple[list, list, list], ...] = (([], [], []), ([], [], []), ([], [], []))
    names: dict[int, str] = {}
    for chunk in _chunks(ids):
        for slot, rid, kid, key, value in _value_rows(conn, chunk):
            pos, kids, values = triples[slot]
            pos.append(position[rid])
            kids.append(kid)
            values.append(value)
            names[kid] = key
    return FrameColumns(_info_columns([found[i] for i in ids]),
                        *(_named(_scattered(len(ids), *t, slot == 0), names) for slot, t in enumerate(triples)))


def _scattered(n: int, pos, kids, values, numeric: bool) -> dict[int, Any]:
    """``{key id: column of n values}`` from (position, key id, value) triples, keys in first-seen order
    (the first position that has the key, then key id).

    numpy places the values (no Python step per value): metrics as float64 arrays with NaN,
    params and tags as lists with None where a run lacks the key.
    """
    import numpy as np

    pos, kids = np.asarray(pos, dtype=np.int64), np.asarray(kids, dtype=np.int64)
    if numeric:
        values = np.asarray(values, dtype=np.float64)
    else:
        values, strings = np.empty(len(values), dtype=object), values
        values[:] = strings
    if not len(kids):
        return {}
    small = 0 <= kids.min() and kids.max() < 1 << 16  # a store's key ids: a radix sort, 5x faster
    order = np.argsort(kids.astype(np.uint16) if small else kids, kind="stable")  # group by key id
    pos, kids, values = pos[order], kids[order], values[order]
    starts = np.flatnonzero(np.r_[True, kids[1:] != kids[:-1]])
    ends = np.append(starts[1:], len(kids)).tolist()
    columns: dict[int, Any] = {}
    for i in np.lexsort((kids[starts], np.minimum.reduceat(pos, starts))).tolist():
        s, e = int(starts[i]), ends[i]
        column = np.full(n, np.nan if numeric else None, dtype=values.dtype)
        column[pos[s:e]] = values[s:e]
        columns[int(kids[s])] = column if numeric else column.tolist()
    return columns


def _named(columns: dict[int, Any], names: dict[int, str]) -> dict[str, Any]:
    return {names[kid]: column for kid, column in columns.items()}


# SQLite: the ids go in as one JSON array; json_each's ``key`` is each id's position in it.
_FRAME_INFO_SQL = ("SELECT r.run_uuid, r.experiment_id, r.status, r.artifact_uri, r.start_time, r.end_time "
                   "FROM json_each(?) j JOIN runs r ON r.id = j.value ORDER BY j.key")
_FRAME_IDS_SQL = "SELECT r.id FROM json_each(?) j JOIN runs r ON r.id = j.value ORDER BY j.key"
# Each value's run position and key id travel as one integer, key_id * n + position (n = ?2):
# for metrics with the kind in its low 3 bits, beside the value as the driver's exact float
# (never JSON text, which would round it). Two objects per row instead of four.
_FRAME_METRICS_SQL = ("SELECT (t.key_id * ?2 + j.key) * 8 + t.kind, t.value FROM json_each(?1) j "
                      "JOIN latest_metrics t ON t.run_id = j.value")
# Params and tags: one row of two texts, the codes parsed by numpy and the values by json.loads
# (exact for any text, NUL included): no row tuple or int object per value.
_FRAME_STRINGS_SQL = ("SELECT group_concat(t.key_id * ?2 + j.key), json_group_array(t.value) "
                      "FROM json_each(?1) j JOIN {table} t ON t.run_id = j.value")
_FRAME_NAMES_SQL = "SELECT id, name FROM key_names WHERE id IN (SELECT value FROM json_each(?))"


def _frame_sqlite(conn: Connection, ids: list[int]) -> FrameColumns:
    """The frame's columns in five statements: the driver and numpy do the per-value work."""
    import numpy as np

    cursor = conn.connection.cursor()
    try:
        array = json.dumps(ids)
        rows = cursor.execute(_FRAME_INFO_SQL, (array,)).fetchall()
        if len(rows) < len(ids):  # an id that is not a run: positions are those of the runs found
            ids = [i for i, in cursor.execute(_FRAME_IDS_SQL, (array,))]
            array = json.dumps(ids)
        n = len(ids)
        triples = [_sqlite_metric_triples(cursor, array, n)]
        for table in ("params", "tags"):
            codes, values = cursor.execute(_FRAME_STRINGS_SQL.format(table=table), (array, n)).fetchone()
            kids, pos = np.divmod(np.fromstring(codes or "", dtype=np.int64, sep=","), max(n, 1))
            triples.append((pos, kids, json.loads(values)))
        groups = [_scattered(n, *triple, slot == 0) for slot, triple in enumerate(triples)]
        used = [kid for group in groups for kid in group]
        names = dict(cursor.execute(_FRAME_NAMES_SQL, (json.dumps(used),)))
    finally:
        cursor.close()
    return FrameColumns(_info_columns(rows), *(_named(group, names) for group in groups))


def _sqlite_metric_triples(cursor, array: str, n: int) -> tuple:
    import numpy as np

    rows = cursor.execute(_FRAME_METRICS_SQL, (array, n)).fetchall()
    codes, values = zip(*rows, strict=True) if rows else ((), ())
    codes, values = np.array(codes, dtype=np.int64), np.array(values, dtype=np.float64)
    kinds = codes & 7
    for i in np.flatnonzero(kinds).tolist():  # NaN, ±inf, -0.0: few
        values[i] = V.decode_metric(values[i], int(kinds[i]))
    kids, pos = np.divmod(codes >> 3, max(n, 1))
    return pos, kids, values


def get_run(store, run_id: str) -> Run:
    """One run by its id, or RunNotFound (also when its cached id was purged by ``sqltrack gc`` meanwhile)."""

    def unit(conn: Connection) -> Run:
        found = load_runs(conn, [run_internal_id(store, conn, run_id)])
        if not found or found[0].info.run_id != str(run_id):  # the uuid too: see runs.require_updated
            raise purged_run(run_id)
        return found[0]

    return store.read(unit)


def metric_history(store, run_id: str, key: str) -> list[Metric]:
    """Every point of one metric of a run, ordered by step then timestamp (RunNotFound once purged)."""

    def unit(conn: Connection) -> list[Metric]:
        rid = live_run_id(store, conn, run_id)
        kid = key_ids(store, conn, [key], create=False).get(key)
        return [] if kid is None else history_points(conn, rid, kid, key)

    return store.read(unit)


_HISTORY_SQL = ("SELECT step, timestamp, value, kind FROM metrics WHERE run_id = ? AND key_id = ? "
                "ORDER BY step, timestamp")
# The same rows without the kind, for histories without NaN/±inf/-0.0 (kind is in the
# primary key, so the check reads no table rows). The key is not selected: the driver would
# make a new string for every row (a third of the fetch).
_PLAIN_HISTORY_SQL = ("SELECT value, timestamp, step FROM metrics WHERE run_id = ? AND key_id = ? "
                      "ORDER BY step, timestamp")
_HAS_SPECIAL_SQL = "SELECT EXISTS (SELECT 1 FROM metrics WHERE run_id = ? AND key_id = ? AND kind != 0)"
_METRIC_IS_TUPLE = issubclass(Metric, tuple) and Metric._fields == ("key", "value", "timestamp", "step")


def history_points(conn: Connection, rid: int, kid: int, key: str) -> list[Metric]:
    """The points of one metric as Metric objects (the primary key's order: no sort step).

    On SQLite the rows come straight from the driver's cursor. When no point of the metric
    is NaN, ±inf or -0.0 (the usual case), each row comes in Metric's field order after the
    key, and ``(key,) + row`` becomes a Metric in C (``tuple.__new__``); otherwise values are
    decoded.
    """
    if conn.dialect.name != "sqlite":
        m = tables.metrics.c
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
        rows = cursor.execute(_PLAIN_HISTORY_SQL, (rid, kid)).fetchall()
        # (key,) + row in C, then the Metric in C: half the time of zipping the columns back together
        return list(map(tuple.__new__, repeat(Metric), map(add, repeat((key,)), rows)))
    return _decoded(cursor.execute(_HISTORY_SQL, (rid, kid)).fetchall(), key)


def _decoded(rows: list, key: str) -> list[Metric]:
    if not rows:
        return []
    steps, stamps, values, kinds = zip(*rows, strict=True)
    if any(kinds):
        values = map(V.decode_metric, values, kinds)
    return list(map(Metric, repeat(key), values, stamps, steps))
