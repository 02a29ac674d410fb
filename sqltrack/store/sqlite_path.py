"""SQLite's logging and search statements, sent straight to the ``sqlite3`` driver.

A SQLite write transaction holds the whole file's write lock, so whatever a writer spends
inside one, every other process waits for. SQLAlchemy's own work per statement (events,
result objects: ≈ 20 µs against ≈ 1–2 µs for the driver call) is most of a small
statement's cost; the statements a run's creation and end issue on every run are therefore
sent to the driver here. A search's Core SELECTs (``select_rows``) are compiled once and
then sent the same way: SQLAlchemy's per-execution work on them (a cache-key walk of the
whole statement, expanding IN lists, result objects) is 0.1–0.2 ms of a 1.5 ms search.
Everything else, and every other backend, goes through Core. Driver errors are re-raised
as SQLAlchemy's, so retrying and translating treat them alike.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.exc import DBAPIError

from .schema import latest_metrics

INSERT_PARAMS = "INSERT OR IGNORE INTO params (run_id, key_id, value, value_num) VALUES (?, ?, ?, ?)"
UPSERT_TAGS = ("INSERT INTO tags (run_id, key_id, value) VALUES (?, ?, ?) "
               "ON CONFLICT (run_id, key_id) DO UPDATE SET value = excluded.value")
INSERT_POINTS = ("INSERT OR IGNORE INTO metrics (run_id, key_id, step, timestamp, value, kind) "
                 "VALUES (?, ?, ?, ?, ?, ?)")
RENAME_RUN = "UPDATE runs SET name = ? WHERE id = ?"
# Matched by id and uuid; no row changed means the run was purged (see runs.require_updated).
TOUCH_RUN = "UPDATE runs SET last_activity_time = ? WHERE id = ? AND run_uuid = ?"
SET_STATUS = ("UPDATE runs SET status = ?, last_activity_time = ?, end_time = coalesce(?, end_time) "
              "WHERE id = ? AND run_uuid = ?")
# A run is inserted only into an active experiment; no row inserted means a missing or deleted one.
INSERT_RUN = ("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, "
              "artifact_uri, source_type, last_activity_time) "
              "SELECT ?, experiment_id, ?, ?, ?, ?, 'active', ?, 'LOCAL', ? FROM experiments "
              "WHERE experiment_id = ? AND lifecycle_stage = 'active'")

#: latest_metrics' columns after (run_id, key_id), in table order.
LATEST_COLUMNS = [c.name for c in latest_metrics.columns if c.name not in ("run_id", "key_id")]
_QUOTED = [f'"{c}"' for c in LATEST_COLUMNS]
SELECT_LATEST = (f"SELECT key_id, {', '.join(_QUOTED)} FROM latest_metrics "
                 "WHERE run_id = ? AND key_id IN ({marks})")
UPSERT_LATEST = (f"INSERT INTO latest_metrics (run_id, key_id, {', '.join(_QUOTED)}) "
                 f"VALUES ({', '.join('?' * (len(LATEST_COLUMNS) + 2))}) ON CONFLICT (run_id, key_id) "
                 f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _QUOTED)}")


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """Run one statement inside ``conn``'s transaction on its driver connection."""
    try:
        return conn.connection.driver_connection.execute(sql, params)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, params, error, sqlite3.Error) from error


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run one statement for every row inside ``conn``'s transaction; returns the rows changed."""
    try:
        return conn.connection.driver_connection.executemany(sql, rows).rowcount
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from error


class _Prepared(NamedTuple):
    """A SELECT compiled for the driver: its SQL, its own values in order, and where the caller's go."""

    sql: str
    values: tuple
    slots: tuple[tuple[int, str], ...]


def select_rows(conn: Connection, statement: Select, params: Mapping[str, Any] | None = None) -> list[tuple]:
    """Every row of a Core SELECT; on SQLite through the driver, compiled once per statement.

    ``params`` are the values of the statement's unvalued bind parameters (scalars).
    """
    names = tuple(sorted(params or ()))
    prepared = _prepare(statement, conn.dialect, names) if is_sqlite(conn) else None
    if prepared is None:
        return [tuple(row) for row in conn.execute(statement, dict(params or {}))]
    values = list(prepared.values)
    for position, name in prepared.slots:
        values[position] = params[name]
    return execute(conn, prepared.sql, values).fetchall()


@lru_cache(maxsize=1024)
def _prepare(statement: Select, dialect: Dialect, names: tuple[str, ...]) -> _Prepared | None:
    """The statement for the driver, or None when a value or column needs SQLAlchemy's type processing."""
    if any(_result_processor(column, dialect) for column in statement.selected_columns):
        return None
    state = statement.compile(dialect=dialect).construct_expanded_state(dict.fromkeys(names, 0))
    if state.processors:
        return None
    slots = tuple((i, name) for i, name in enumerate(state.positiontup or ()) if name in names)
    return _Prepared(state.statement, tuple(state.positional_parameters), slots)


def _result_processor(column, dialect: Dialect):
    return column.type.dialect_impl(dialect).result_processor(dialect, None)
