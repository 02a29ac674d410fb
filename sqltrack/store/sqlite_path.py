"""SQLite's logging statements, sent straight to the ``sqlite3`` driver.

A SQLite write transaction holds the whole file's write lock, so whatever a writer spends
inside one, every other process waits for. SQLAlchemy's own work per statement (events,
result objects: ≈ 20 µs against ≈ 1–2 µs for the driver call) is most of a small
statement's cost; the statements a run's creation and end issue on every run are therefore
sent to the driver here. Everything else, and every other backend, goes through Core.
Driver errors are re-raised as SQLAlchemy's, so retrying and translating treat them alike.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from sqlalchemy import Connection
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
