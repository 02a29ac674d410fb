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
from itertools import chain
from typing import Any, Mapping, NamedTuple, Sequence

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.exc import DBAPIError

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
SELECT_KEY_IDS = "SELECT name, id FROM key_names WHERE name IN ({marks})"
INSERT_KEY_NAMES = "INSERT OR IGNORE INTO key_names (name) VALUES (?)"
INSERT_EXPERIMENT = ("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                     "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)")
SET_STORE_INFO = 'INSERT OR REPLACE INTO store_info ("key", value) VALUES (?, ?)'

#: latest_metrics' columns after (run_id, key_id), in table order (a test holds them to ``schema``).
LATEST_COLUMNS = ["step", "timestamp", "value", "kind", "min_value", "max_value", "avg_value", "sum_value",
                  "first_value", "first_kind", "first_step", "first_timestamp", "count", "nan_count"]
_QUOTED = [f'"{c}"' for c in LATEST_COLUMNS]
SELECT_LATEST = (f"SELECT key_id, {', '.join(_QUOTED)} FROM latest_metrics "
                 "WHERE run_id = ? AND key_id IN ({marks})")
UPSERT_LATEST = (f"INSERT INTO latest_metrics (run_id, key_id, {', '.join(_QUOTED)}) "
                 f"VALUES ({', '.join('?' * (len(LATEST_COLUMNS) + 2))}) ON CONFLICT (run_id, key_id) "
                 f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _QUOTED)}")


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def create_tables(conn: Connection) -> None:
    """Create a new store's tables and indexes (``sqlite_ddl``: what ``schema`` renders for SQLite)."""
    from .sqlite_ddl import STATEMENTS

    for statement in STATEMENTS:
        execute(conn, statement)


def execute(conn: Connection, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """Run one statement inside ``conn``'s transaction on its driver connection."""
    try:
        return conn.connection.driver_connection.execute(sql, params)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, params, error, sqlite3.Error) from error


def executemany(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run one statement for every row inside ``conn``'s transaction; returns the rows changed.

    Plain and ``OR IGNORE`` INSERTs of 32 rows or more go out as multi-row statements (``insert_rows``).
    """
    try:
        return insert_rows(conn.connection.driver_connection, sql, rows)
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from error


#: Rows per multi-row INSERT at most; with SQLite's historic limit of 999 bound values per statement.
MAX_ROWS_PER_INSERT = 128
#: Fewer rows than this go through executemany: below it, one statement carrying them all was no faster.
MIN_ROWS_PER_INSERT = 32
_MAX_VARIABLES = 999


def insert_rows(db: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run a one-row ``INSERT [OR IGNORE] ... VALUES (?, ...)`` for every row; the rows changed.

    The driver's ``executemany`` binds and steps the statement once per row, at about twice
    the cost of one statement carrying many rows' values (500 metric points: 0.53 against
    0.26 ms), and a SQLite writer spends it holding the whole file's write lock. Rows go in
    order, in statements of a power-of-two number of rows (32 to ``MAX_ROWS_PER_INSERT``),
    so that a few statement texts serve every batch size from the driver's statement cache;
    the last few rows, and every row of an upsert (``ON CONFLICT``, which SQLite runs 2-4x
    slower from a multi-row VALUES), go through ``executemany``.
    """
    total = len(rows)
    if total < MIN_ROWS_PER_INSERT or not _takes_many_rows(sql):
        return db.executemany(sql, rows).rowcount
    cap = _row_cap(len(rows[0]))
    changed = done = 0
    while cap >= MIN_ROWS_PER_INSERT and total - done >= MIN_ROWS_PER_INSERT:
        size = min(cap, 1 << ((total - done).bit_length() - 1))
        part = rows[done:done + size]
        changed += db.execute(_many_values(sql, size), list(chain.from_iterable(part))).rowcount
        done += size
    if done < total:
        changed += db.executemany(sql, rows[done:] if done else rows).rowcount
    return changed


@lru_cache(maxsize=256)
def _takes_many_rows(sql: str) -> bool:
    return " VALUES (" in sql and " ON CONFLICT " not in sql


def _row_cap(width: int) -> int:
    """The largest power of two of rows per statement for rows of ``width`` values (0 for none)."""
    if width == 0:
        return 0
    fit = min(MAX_ROWS_PER_INSERT, _MAX_VARIABLES // width)
    return 1 << (fit.bit_length() - 1) if fit else 0


@lru_cache(maxsize=256)
def _many_values(sql: str, count: int) -> str:
    """``sql`` (one ``VALUES (?, ...)`` group) with the group repeated ``count`` times."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    end = sql.index(")", start) + 1
    return f"{sql[:start]}{', '.join([sql[start:end]] * count)}{sql[end:]}"


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
