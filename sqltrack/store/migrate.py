"""Creating, checking and upgrading a store's schema.

Opening an up-to-date store only reads one row; Alembic is imported only when a
store must be upgraded. New stores are created at the head revision in one
transaction, so concurrent first openers are safe (SQLite's write lock, or an
advisory lock on servers, serialises them).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, insert, inspect, select, text

from .._version import __version__
from ..errors import SchemaOutOfDate, SchemaVersionError, StoreError
from . import sqlite_path as SQ
from .engine import WRITE_OPTION, enable_wal
from .revision import SCHEMA_REVISION
from .tables import tables
from .views import create_views

DEFAULT_EXPERIMENT_NAME = "Default"


def ensure_schema(engine: Engine, url: str, artifact_location: str | None) -> None:
    """Make the store's schema current: create it, upgrade it (SQLite), or refuse clearly."""
    enable_wal(engine)
    with engine.connect() as conn:
        current = read_revision(conn)
    if current == SCHEMA_REVISION:
        return
    if current is None:
        _create(engine, artifact_location)
        return
    if engine.dialect.name != "sqlite":
        _refuse_or_fail(engine, url, current, implicit=True)
    upgrade(engine, url)


def read_revision(conn: Connection) -> str | None:
    """The store's Alembic revision, or None for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def read_library_version(conn: Connection) -> str | None:
    """The sqltrack version that last created or upgraded the store."""
    if not inspect(conn).has_table("store_info"):
        return None
    info = tables.store_info.c
    query = select(info.value).where(info.key == "library_version")
    return conn.execute(query).scalar()


def _create(engine: Engine, artifact_location: str | None) -> None:
    with _schema_change(engine) as conn:
        if read_revision(conn) is not None:
            return  # another process created it while we waited for the lock
        create_tables(conn, artifact_location)


def create_tables(conn: Connection, artifact_location: str | None) -> None:
    """Create every table and view at the head revision, with the Default experiment.

    SQLite runs the pre-rendered DDL of ``sqlite_ddl`` (the same statements, without building
    the tables: see ``tables``); other backends render theirs from ``schema``.
    """
    if SQ.is_sqlite(conn):
        SQ.create_tables(conn)
    else:
        tables.metadata.create_all(conn)
    create_views(conn)
    conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_REVISION})
    _record_library_version(conn)
    now = int(time.time() * 1000)
    row = dict(experiment_id=0, name=DEFAULT_EXPERIMENT_NAME, artifact_location=artifact_location,
               lifecycle_stage="active", creation_time=now, last_update_time=now)
    if SQ.is_sqlite(conn):
        SQ.execute(conn, SQ.INSERT_EXPERIMENT, tuple(row.values()))
    else:
        conn.execute(insert(tables.experiments).values(**row))


def _record_library_version(conn: Connection) -> None:
    if SQ.is_sqlite(conn):
        SQ.execute(conn, SQ.SET_STORE_INFO, ("library_version", __version__))
        return
    table = tables.store_info
    conn.execute(table.delete().where(table.c.key == "library_version"))
    conn.execute(insert(table).values(key="library_version", value=__version__))


#: How long a process waits for another's schema creation/upgrade on a server (seconds).
SCHEMA_LOCK_TIMEOUT_S = 300
_MYSQL_LOCK_NAME = "CONCAT('sqltrack_schema:', MD5(COALESCE(DATABASE(), '')))"


@contextmanager
def _schema_change(engine: Engine) -> Iterator[Connection]:
    """A write transaction that holds the store's schema lock, released after it ends."""
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn:
        try:
            with conn.begin():
                _lock_for_schema_change(conn)
                yield conn
        finally:
            _unlock_schema_change(conn)


def _lock_for_schema_change(conn: Connection) -> None:
    """Serialise schema creation/upgrade between processes (SQLite: BEGIN IMMEDIATE already did).

    PostgreSQL: a transaction-level advisory lock for this schema. MySQL/MariaDB: a named
    lock for this database (``GET_LOCK`` is per session, so ``_unlock_schema_change``
    releases it once the transaction is over; DDL there commits implicitly anyway).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7301245, hashtext(current_schema()))"))
    elif conn.dialect.name in ("mysql", "mariadb"):
        got = conn.execute(text(f"SELECT GET_LOCK({_MYSQL_LOCK_NAME}, :wait)"),
                           {"wait": SCHEMA_LOCK_TIMEOUT_S}).scalar()
        if got != 1:
            raise StoreError(f"Waited {SCHEMA_LOCK_TIMEOUT_S} s for another process to finish creating or upgrading "
                             "the store's schema; check for a stuck 'sqltrack db upgrade', then try again.")


def _unlock_schema_change(conn: Connection) -> None:
    if conn.dialect.name not in ("mysql", "mariadb") or conn.closed:
        return
    try:
        conn.execute(text(f"SELECT RELEASE_LOCK({_MYSQL_LOCK_NAME})"))
        conn.rollback()
    except Exception:  # noqa: BLE001 - a broken connection: drop it, and its session lock with it
        conn.invalidate()


def _refuse_or_fail(engine: Engine, url: str, current: str, implicit: bool) -> None:
    from .alembic_config import known_revisions

    with engine.connect() as conn:
        library = read_library_version(conn) or "unknown"
    shown = _display_url(url)
    if current not in known_revisions():
        raise SchemaVersionError(
            f"The store {shown} has schema revision {current!r}, written by sqltrack {library}, which is newer "
            f"than this sqltrack {__version__} (schema {SCHEMA_REVISION!r}). Upgrade sqltrack "
            f"(pip install -U sqltrack) to open it.")
    if implicit:
        raise SchemaOutOfDate(
            f"The store {shown} has schema revision {current!r}, older than this sqltrack's "
            f"{SCHEMA_REVISION!r}. A shared database is never upgraded implicitly: take a backup, then run "
            f"'sqltrack db upgrade --store {shown}'.")


def upgrade(engine: Engine, url: str) -> str | None:
    """Upgrade the store to the head revision; returns the path of the backup copy (SQLite), if one was made."""
    with engine.connect() as conn:
        current = read_revision(conn)
    if current is None:
        _create(engine, None)
        return None
    if current == SCHEMA_REVISION:
        return None
    _refuse_or_fail(engine, url, current, implicit=False)
    from .alembic_config import run_upgrade

    with _schema_change(engine) as conn:
        current = read_revision(conn)
        if current == SCHEMA_REVISION:
            return None
        backup = _backup_sqlite(engine, current)
        run_upgrade(conn)
        _record_library_version(conn)
    return backup


def _backup_sqlite(engine: Engine, revision: str) -> str | None:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    target = Path(f"{database}.backup-{revision}-{time.strftime('%Y%m%d-%H%M%S')}")
    import sqlite3

    src = sqlite3.connect(database)
    try:
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()
    return str(target)


def _display_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


__all__ = ["ensure_schema", "upgrade", "read_revision", "read_library_version", "create_tables"]
