"""Read-only raw SQL over a store: ``sqltrack.sql(query)`` and the ``sqltrack sql`` command.

The query runs on a connection that the *database* keeps from writing; nothing here
inspects the SQL text to decide what is allowed.

* **SQLite**: the file is opened with ``mode=ro``; ``PRAGMA query_only = 1``; extension
  loading is off and ATTACH is limited to zero databases; and an authorizer
  (``sqlite3.Connection.set_authorizer``) denies, while the statement is compiled, every
  action except reading (SELECT, column reads, functions, recursive CTEs) and a short
  list of introspection PRAGMAs. Writes, DDL, ATTACH, PRAGMA changes and
  ``load_extension()`` fail with SQLite's "not authorized".
* **PostgreSQL**: a fresh connection with ``default_transaction_read_only = on``, a
  ``SET TRANSACTION READ ONLY`` transaction that is always rolled back, and prepared
  statements (the server refuses several commands in one).
* **MySQL / MariaDB**: a fresh connection in ``SET SESSION TRANSACTION READ ONLY`` and a
  ``START TRANSACTION READ ONLY`` transaction that is always rolled back; the driver does
  not enable multi-statements, so the server refuses a second statement.
* On both servers the text must first be accepted as the subquery of a never-executed
  ``... WHERE <false> AND EXISTS (<query>)``: the server's parser refuses anything that is
  not a query there (``SET``, ``COPY``, ``SELECT ... INTO OUTFILE``, DDL ...).

What each server enforces, and what it does not (server-side functions that a privileged
account may call), is written down in ``docs/sql.md``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import InvalidParameter, SqltrackError, StoreError, StoreReadOnly
from ..store.views import VIEWS

#: The documented views (docs/sql.md), named in error hints.
VIEW_NAMES: tuple[str, ...] = tuple(VIEWS)
#: How long a query waits for a SQLite lock (ms); readers rarely wait under WAL.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_HINT = ("sqltrack sql is read-only: it runs one query; query the views " + ", ".join(VIEW_NAMES)
         + " (docs/sql.md)")

# -- SQLite: what the authorizer lets through ---------------------------------------------

_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
#: SQL functions that reach outside the database: refused even though functions are allowed.
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
#: PRAGMAs that only describe the schema, allowed with any argument (``PRAGMA table_info(runs_view)``).
_INTROSPECTION_PRAGMAS = frozenset({
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo",
    "foreign_key_list", "database_list", "collation_list", "function_list", "module_list",
    "pragma_list", "compile_options",
})
#: PRAGMAs allowed only without an argument, i.e. as reads of a setting.
_SETTING_PRAGMAS = frozenset({
    "user_version", "schema_version", "application_id", "page_size", "page_count", "freelist_count",
    "encoding", "journal_mode", "query_only", "foreign_keys", "data_version",
})
#: Table-valued functions (``json_each``, ``pragma_table_info``) register themselves in the
#: schema the first time they are used, which the authorizer sees as UPDATEs of these
#: columns of sqlite_master. A user's own ``UPDATE sqlite_master`` is still refused, by
#: SQLite itself ("may not be modified"), by query_only and by the read-only file.
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master"})


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action in _READ_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _INTROSPECTION_PRAGMAS or (name in _SETTING_PRAGMAS and arg2 is None):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


# -- public API -------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryResult:
    """The columns and rows of a query, as the database driver returned them."""

    columns: list[str]
    rows: list[tuple]


def sql(query: str, params: Mapping[str, Any] | Sequence[Any] | None = None, *,
        tracking_uri: str | os.PathLike | None = None):
    """Run one read-only SQL query on a store and return the rows as a pandas DataFrame.

    Query the documented views (``runs_view``, ``params_view``, ``latest_metrics_view`` ...,
    see docs/sql.md); they keep their names and columns across schema revisions.

    Args:
        query: one SQL statement (a SELECT, WITH or VALUES query; on SQLite also EXPLAIN
            and introspection PRAGMAs such as ``PRAGMA table_info(runs_view)``).
        params: values for placeholders: a dict for ``:name`` (every backend) or, on
            SQLite, a sequence for ``?``.
        tracking_uri: the store; default: the fluent API's (``sqltrack.get_tracking_uri()``).

    Returns:
        A DataFrame with the query's columns, in the query's row order.

    Raises:
        StoreReadOnly: the statement would write, attach a database, change a setting or
            load an extension; the database refused it.
        InvalidParameter: the database rejected the query (syntax, unknown view or column,
            missing parameter).
        StoreError: the store cannot be opened.

    Example:
        ``sqltrack.sql("SELECT run_name, status FROM runs_view WHERE status = :s", {"s": "FAILED"})``
    """
    result = run_query(query, params, tracking_uri=tracking_uri)
    import pandas as pd

    return pd.DataFrame.from_records(result.rows, columns=result.columns)


def run_query(query: str, params: Mapping[str, Any] | Sequence[Any] | None = None, *,
              tracking_uri: str | os.PathLike | None = None) -> QueryResult:
    """Like :func:`sql` but returns the driver's rows unchanged (used by the CLI)."""
    from sqlalchemy.engine import make_url

    _check_arguments(query, params)
    url = _store_url(tracking_uri)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _run_sqlite(url, query, params)
    if backend in _SERVERS:
        return _run_server(url, query, params, _SERVERS[backend])
    raise InvalidParameter(f"sqltrack sql does not support {backend!r} stores; use SQLite, PostgreSQL or MySQL.")


def _check_arguments(query: Any, params: Any) -> None:
    if not isinstance(query, str) or not query.strip():
        raise InvalidParameter(f"sql() needs a query string, e.g. 'SELECT * FROM runs_view'; got {query!r}.")
    if params is not None and (isinstance(params, (str, bytes)) or not isinstance(params, (Mapping, Sequence))):
        raise InvalidParameter(f"params must be a dict (for :name) or a list (for ?), not {type(params).__name__}.")


def _store_url(tracking_uri: str | os.PathLike | None) -> str:
    from ..config import resolve

    if tracking_uri is None:
        from ..api.fluent import get_tracking_uri

        tracking_uri = get_tracking_uri()
    return resolve(tracking_uri).url


# -- SQLite -----------------------------------------------------------------------------------

def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database in (None, "", ":memory:"):
        raise InvalidParameter("sqltrack sql needs a store in a file; an in-memory store has nothing to query.")
    path = Path(database).expanduser().absolute()
    if not path.is_file():
        raise StoreError(f"No store at {path}: check the path (or --store / SQLTRACK_TRACKING_URI).")
    return path


def connect_read_only(path: str | os.PathLike) -> sqlite3.Connection:
    """A sqlite3 connection to ``path`` that SQLite itself keeps from writing (see module docs)."""
    conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, isolation_level=None,
                           timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        if hasattr(conn, "enable_load_extension"):  # absent when Python's SQLite cannot load extensions
            conn.enable_load_extension(False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_MS)}")
        conn.execute("PRAGMA query_only = 1")
        conn.execute("PRAGMA trusted_schema = 0")
        conn.set_authorizer(_authorize)  # last: from here on only reads compile
    except BaseException:
        conn.close()
        raise
    return conn


def _run_sqlite(url: str, query: str, params) -> QueryResult:
    path = _sqlite_path(url)
    try:
        conn = connect_read_only(path)
    except sqlite3.Error as error:
        raise StoreError(f"Cannot open the store {path} read-only: {error}.") from None
    try:
        cursor = conn.execute(query, params if params is not None else ())
        columns = [d[0] for d in cursor.description or ()]
        rows = cursor.fetchall() if cursor.description else []
        return QueryResult(columns, rows)
    except (sqlite3.Error, sqlite3.Warning) as error:
        raise _sqlite_error(error) from None
    finally:
        conn.close()


def _sqlite_error(error: Exception) -> SqltrackError:
    text = _one_line(str(error)).rstrip(".")
    low = text.lower()
    if any(word in low for word in ("not authorized", "authorization denied", "readonly", "read-only",
                                    "may not be modified", "prohibited")):
        return StoreReadOnly(f"The database refused the statement ({text}): {_HINT}; writes, ATTACH, "
                             "PRAGMA changes and extensions are refused.")
    if "file is not a database" in low or "disk i/o" in low or "unable to open" in low:
        return StoreError(f"Cannot read the store: {text}.")
    return InvalidParameter(f"The database rejected the query: {text}. {_HINT}.")


# -- PostgreSQL and MySQL ---------------------------------------------------------------------
#
# Both run on a fresh connection (closed afterwards, never pooled) in a read-only transaction
# that is always rolled back. Before the query runs, the server must accept its text as the
# subquery of ``SELECT 1 ... WHERE <false> AND EXISTS (<query>)``, which it plans but never
# executes: only a query parses there, so SET, SHOW, COPY, SELECT ... INTO OUTFILE and
# data-modifying WITH are refused by the server's parser. (A text whose parentheses close the
# subquery early cannot be a valid statement on its own.) Then the query runs as it is, so
# its ORDER BY and duplicate column names are kept.

@dataclass(frozen=True)
class _Server:
    probe: str   # the EXISTS statement, with {query} in it
    run: Any     # (driver connection, probe sql, query sql, params) -> QueryResult


def _run_server(url: str, query: str, params, server: _Server) -> QueryResult:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    if params is not None and not isinstance(params, Mapping):
        raise InvalidParameter("On PostgreSQL and MySQL stores give params as a dict and write :name "
                               "placeholders; positional ? parameters are for SQLite stores.")
    body = re.sub(r"[\s;]+$", "", query)
    engine = create_engine(url, poolclass=NullPool)
    try:
        probe = text(server.probe.format(query=body)).compile(dialect=engine.dialect)
        compiled = text(body).compile(dialect=engine.dialect)
        bound = _bind(compiled, dict(params or {}))
        try:
            raw = engine.raw_connection()
        except SQLAlchemyError as error:
            raise StoreError(f"Cannot connect to the store: {getattr(error, 'orig', error)}") from None
        try:
            return server.run(raw.driver_connection, probe.string, compiled.string, bound)
        finally:
            raw.invalidate()  # closed, never pooled: the session may carry the user's settings
    finally:
        engine.dispose()


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _bind(compiled, params: dict) -> dict:
    missing = [name for name in compiled.binds if name not in params]
    if missing:
        raise InvalidParameter(f"The query uses :{missing[0]} but params has no {missing[0]!r}; "
                               f"pass it in params (CLI: --param {missing[0]}=VALUE).")
    return compiled.construct_params(params)


def _postgres(driver, probe: str, statement: str, bound: dict) -> QueryResult:
    import psycopg

    try:
        driver.rollback()  # the dialect's first-connect queries may have opened a transaction
        driver.autocommit = True
        driver.execute("SET default_transaction_read_only = on")
        driver.autocommit = False
        with driver.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            # prepare=True: the extended protocol, where the server refuses more than one command.
            # The probe is also the transaction's first query, after which READ WRITE is refused.
            cursor.execute(probe, bound, prepare=True)
            cursor.execute(statement, bound, prepare=True)
            columns = [column.name for column in cursor.description or ()]
            rows = cursor.fetchall() if cursor.description else []
        return QueryResult(columns, rows)
    except psycopg.Error as error:
        raise _postgres_error(error) from None
    finally:
        try:
            driver.rollback()
        except psycopg.Error:
            pass


def _postgres_error(error) -> SqltrackError:
    diag = getattr(error, "diag", None)
    message = _one_line(getattr(diag, "message_primary", None) or str(error))
    state = getattr(error, "sqlstate", None) or ""
    if state in ("25006", "42501"):  # read_only_sql_transaction, insufficient_privilege
        return StoreReadOnly(f"The database refused the statement ({message}): {_HINT}.")
    if state.startswith(("08", "57")):
        return StoreError(f"The store's server failed: {message}.")
    if state == "42601":
        return InvalidParameter(f"The database rejected the query ({message}); only one SELECT, WITH, VALUES "
                                f"or TABLE query is accepted. {_HINT}.")
    return InvalidParameter(f"The database rejected the query: {message}. {_HINT}.")


def _mysql(driver, probe: str, statement: str, bound: dict) -> QueryResult:
    import pymysql

    try:
        with driver.cursor() as cursor:
            # The driver does not set CLIENT_MULTI_STATEMENTS: the server refuses a second statement.
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute(probe, bound)
            cursor.execute(statement, bound)
            columns = [d[0] for d in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()] if cursor.description else []
        return QueryResult(columns, rows)
    except pymysql.MySQLError as error:
        raise _mysql_error(error) from None
    finally:
        try:
            driver.rollback()
        except pymysql.MySQLError:
            pass


def _mysql_error(error) -> SqltrackError:
    code = error.args[0] if error.args and isinstance(error.args[0], int) else 0
    message = _one_line(str(error.args[1] if len(error.args) > 1 else error))
    if code in (1792, 1044, 1142, 1227, 1290):  # read-only transaction, access denied, --read-only server
        return StoreReadOnly(f"The database refused the statement ({message}): {_HINT}.")
    if code in (2002, 2003, 2006, 2013):
        return StoreError(f"The store's server failed: {message}.")
    if code == 1064:
        return InvalidParameter(f"The database rejected the query ({message}); only one SELECT, WITH or VALUES "
                                f"query is accepted. {_HINT}.")
    return InvalidParameter(f"The database rejected the query: {message}. {_HINT}.")


#: Backend name → how its server is asked to refuse anything but a query.
_SERVERS = {
    "postgresql": _Server("SELECT 1 WHERE false AND EXISTS (\n{query}\n)", _postgres),
    "mysql": _Server("SELECT 1 FROM DUAL WHERE 1 = 0 AND EXISTS (\n{query}\n)", _mysql),
    "mariadb": _Server("SELECT 1 FROM DUAL WHERE 1 = 0 AND EXISTS (\n{query}\n)", _mysql),
}
