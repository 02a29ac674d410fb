"""Creating SQLAlchemy engines for a store, with the SQLite settings that make it safe and fast."""

from __future__ import annotations

import os
import weakref

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

#: How long a SQLite writer waits for the lock before giving up (ms); retries come on top.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "sqltrack_write"


def make_engine(url: str, *, read_only: bool = False, pool_size: int | None = None) -> Engine:
    """Create the engine for a store URL; SQLite gets WAL, a busy timeout and immediate write locks."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only)
    kwargs: dict = {"pool_pre_ping": True, "future": True}
    if pool_size is not None:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: str, read_only: bool) -> Engine:
    parsed = make_url(url)
    memory = parsed.database in (None, "", ":memory:")
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    if read_only and not memory:
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
    # Pooled: closing the last connection of a WAL file checkpoints it, far too slow per write.
    if memory:
        engine = create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(parsed, connect_args=connect_args, pool_size=4, max_overflow=16)
    _install_sqlite_events(engine, read_only=read_only)
    _forget_pool_after_fork(engine)
    return engine


def _forget_pool_after_fork(engine: Engine) -> None:
    """A forked child must not use its parent's connections; it opens its own."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        live = ref()
        if live is not None:
            live.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


def _install_sqlite_events(engine: Engine, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A deferred transaction that reads and then writes can fail at once with
        # SQLITE_BUSY under WAL; writers take the lock up front instead.
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL journaling (persistent; a no-op when it already is)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal" and mode.lower() != "memory":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()
    finally:
        raw.close()
