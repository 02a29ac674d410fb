"""Creating SQLAlchemy engines for a store, with the SQLite settings that make it safe and fast."""

from __future__ import annotations

import os
import weakref

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from .._exit import at_exit

#: How long a SQLite writer waits for the lock before giving up (ms); retries come on top.
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option that marks a connection as a writer (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "sqltrack_write"


def make_engine(url: str, *, read_only: bool = False, pool_size: int | None = None) -> Engine:
    """Create the engine for a store URL; SQLite gets WAL, a busy timeout and immediate write locks.

    A server gets a small pool (``config.pool_settings``: ``SQLTRACK_POOL_SIZE`` and friends;
    ``pool_size`` overrides the size) with pre-ping and recycling, and MySQL/MariaDB run at
    READ COMMITTED, as PostgreSQL does by default: under MySQL's REPEATABLE READ a
    transaction would not see a key name another process committed after its first read,
    and takes gap locks that turn concurrent inserts into deadlocks.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only)
    engine = create_engine(url, **server_engine_kwargs(parsed.get_backend_name(), pool_size))
    _manage_lifetime(engine)
    return engine


def server_engine_kwargs(backend: str, pool_size: int | None = None) -> dict:
    """``create_engine`` arguments for a database server (see ``make_engine``)."""
    from ..config import pool_settings

    pool = pool_settings()
    kwargs: dict = {"pool_pre_ping": True, "pool_size": pool.size if pool_size is None else pool_size,
                    "max_overflow": pool.max_overflow, "pool_recycle": pool.recycle, "pool_timeout": pool.timeout}
    if backend in ("mysql", "mariadb"):
        kwargs["isolation_level"] = "READ COMMITTED"
    return kwargs


def _sqlite_engine(url: str, read_only: bool) -> Engine:
    parsed = make_url(url)
    memory = parsed.database in (None, "", ":memory:")
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    if read_only and not memory:
        parsed = parsed.set(database=f"file:{parsed.database}?{_read_only_mode(parsed.database)}",
                            query={"uri": "true"})
    # Pooled: closing the last connection of a WAL file checkpoints it, far too slow per write.
    if memory:
        engine = create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    else:
        engine = create_engine(parsed, connect_args=connect_args, pool_size=4, max_overflow=16)
    _install_sqlite_events(engine, read_only=read_only)
    _manage_lifetime(engine)
    return engine


def _read_only_mode(database: str) -> str:
    """``mode=ro``, plus ``immutable=1`` where SQLite could not otherwise open the file read-only.

    Reading a WAL-mode file needs its ``-shm`` file, which SQLite creates beside it. On
    read-only media (or in a folder this user cannot write) without one, only ``immutable=1``
    opens the file, and that is right only when no ``-wal`` file holds commits; otherwise the
    open fails and the Store says why. Immutable means no locking: such a reader must not
    share the file with a writer (one with more permissions) that starts meanwhile.
    """
    folder = os.path.dirname(os.path.abspath(database))
    if os.access(folder, os.W_OK) or os.path.exists(f"{database}-shm"):
        return "mode=ro"
    wal = f"{database}-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        return "mode=ro"
    return "mode=ro&immutable=1"


def sqlite_read_only_reason(database: str) -> str | None:
    """Why this process cannot write an existing SQLite file (and its -wal/-shm beside it), or None."""
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.exists(database) or (os.access(database, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only filesystem"
    except OSError:
        pass
    return "this user may not write the file or its folder"


#: This process's engines, whose connections are closed when the interpreter exits.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _manage_lifetime(engine: Engine) -> None:
    """A forked child must not use its parent's connections (it opens its own); at exit, close them."""
    ref = weakref.ref(engine)

    def in_child() -> None:
        live = ref()
        if live is not None:
            live.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)
    _ENGINES.add(engine)


def _close_engines_at_exit() -> None:
    """Close the pooled connections of every engine still open when the interpreter exits.

    Left to the garbage collector they are not closed, and SQLite then leaves every commit in the
    ``-wal`` file: the database file copied alone would miss them. Closing the last connection
    checkpoints the WAL into the file and removes it. Registered when this module is imported,
    before the fluent API and the write buffers register theirs, so it runs after them: once the
    runs are ended and pending values written (priority 10 in a forked multiprocessing child).
    """
    for engine in list(_ENGINES):
        try:
            engine.dispose()
        except Exception:  # noqa: BLE001 - the process is ending, and the WAL keeps every commit anyway
            pass


at_exit(_close_engines_at_exit, priority=10)


def _install_sqlite_events(engine: Engine, read_only: bool) -> None:
    from ..config import sqlite_cache_mb
    from . import sqlite_path

    cache_kib = sqlite_cache_mb() * 1024

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute(f"PRAGMA cache_size = -{cache_kib}")  # negative: KiB, not pages
        # sqltrack keeps its references itself (every write matches its run by id and uuid, gc deletes
        # children first); SQLite's own check would look up two parents per metric point, ~30% of a
        # point's insert. The declared keys hold, and `PRAGMA foreign_key_check` verifies them.
        cur.execute("PRAGMA foreign_keys = OFF")
        if not read_only:
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # A deferred transaction that reads and then writes can fail at once with
        # SQLITE_BUSY under WAL; writers take the lock up front instead.
        # Straight to the driver (wrapping its errors as SQLAlchemy's, so a lock timeout is retried):
        # exec_driver_sql's own work is ~30 µs, spent by writers inside the write lock.
        sqlite_path.execute(conn, "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to WAL journaling (persistent; a no-op when it already is).

    Two processes opening a new file at once may both try: SQLite refuses one of them at
    once ("database is locked", no busy wait, since both hold a shared lock and want the
    exclusive one), and that one tries again, finding WAL already on.
    """
    if engine.dialect.name != "sqlite":
        return
    from .retry import with_retry

    with_retry(lambda: _switch_to_wal(engine))


def _switch_to_wal(engine: Engine) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal" and mode.lower() != "memory":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()
    finally:
        raw.close()
