"""The backends a conformance test runs on, and fresh, disposable stores on each of them.

* ``sqlite``: a new file in a temporary folder.
* ``postgresql``: a new schema (``sqltrack_t_<hex>``) in the server's database, reached through
  a URL whose ``options=-csearch_path=<schema>`` makes it the connection's default schema.
* ``mariadb`` (also MySQL): a new database (``sqltrack_t_<hex>``, utf8mb4).

Where the servers are: ``SQLTRACK_TEST_PG_URL`` and ``SQLTRACK_TEST_MYSQL_URL`` (admin URLs
of an existing database), defaulting to the local servers that ``.ci/services.sh`` starts.
``SQLTRACK_TEST_BACKENDS`` (comma-separated, e.g. ``sqlite``) limits the backends tested.
A server that does not answer is never silently left out: :func:`unavailable` gives the
reason, which tests report as their skip reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path
from types import TracebackType

#: Every backend the conformance suite knows, in the order tests are parametrised.
BACKENDS: tuple[str, ...] = ("sqlite", "postgresql", "mariadb")
#: The backends that need a server.
SERVER_BACKENDS: tuple[str, ...] = ("postgresql", "mariadb")

ENV_PG_URL = "SQLTRACK_TEST_PG_URL"
ENV_MYSQL_URL = "SQLTRACK_TEST_MYSQL_URL"
ENV_BACKENDS = "SQLTRACK_TEST_BACKENDS"

_DEFAULT_ADMIN_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}
_ENV_FOR = {"postgresql": ENV_PG_URL, "mariadb": ENV_MYSQL_URL}
_PREFIX = "sqltrack_t_"


def selected_backends() -> tuple[str, ...]:
    """The backends to test: all of :data:`BACKENDS`, or those named in ``SQLTRACK_TEST_BACKENDS``."""
    wanted = os.environ.get(ENV_BACKENDS, "")
    if not wanted.strip():
        return BACKENDS
    names = [name.strip().lower() for name in wanted.split(",") if name.strip()]
    names = ["mariadb" if name == "mysql" else name for name in names]
    return tuple(name for name in BACKENDS if name in names)


def admin_url(backend: str) -> str:
    """The URL used to create and drop test schemas/databases on a server backend."""
    if backend not in SERVER_BACKENDS:
        raise ValueError(f"{backend!r} has no server; server backends are {', '.join(SERVER_BACKENDS)}")
    return os.environ.get(_ENV_FOR[backend]) or _DEFAULT_ADMIN_URLS[backend]


@lru_cache(maxsize=None)
def unavailable(backend: str) -> str | None:
    """Why ``backend`` cannot be tested here (the skip reason), or None when it can."""
    if backend == "sqlite":
        return None
    if backend not in SERVER_BACKENDS:
        return f"unknown backend {backend!r}"
    if backend not in selected_backends():
        return f"{backend} not in {ENV_BACKENDS}={os.environ.get(ENV_BACKENDS)!r}"
    from sqlalchemy.engine import make_url

    url = make_url(admin_url(backend))
    shown = url.render_as_string(hide_password=True)
    try:
        engine = _admin_engine(backend)
        with engine.connect():
            pass
        engine.dispose()
    except ImportError as error:
        return f"{backend} driver not installed ({error}); pip install 'sqltrack[{_extra(backend)}]'"
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means skip, with the reason
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{backend} server not reachable at {shown} (set {_ENV_FOR[backend]}): {first_line}"
    return None


def _extra(backend: str) -> str:
    return "postgres" if backend == "postgresql" else "mysql"


def _admin_engine(backend: str):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    connect_args = {"connect_timeout": 3}
    return create_engine(admin_url(backend), isolation_level="AUTOCOMMIT", poolclass=NullPool,
                         connect_args=connect_args)


def store_url_in(backend: str, name: str) -> str:
    """The store URL of the schema (PostgreSQL) or database (MariaDB) ``name`` on a server backend."""
    from sqlalchemy.engine import make_url

    url = make_url(admin_url(backend))
    if backend == "postgresql":
        query = dict(url.query)
        query["options"] = f"-csearch_path={name}"
        url = url.set(query=query)
    else:
        url = url.set(database=name, query={**url.query, "charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


def create_namespace(backend: str, name: str) -> None:
    """Create an empty schema (PostgreSQL) or database (MariaDB) called ``name``."""
    _check_name(name)
    engine = _admin_engine(backend)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
            else:
                conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    finally:
        engine.dispose()


def drop_namespace(backend: str, name: str) -> None:
    """Drop the schema or database ``name`` and everything in it (no error if it is gone)."""
    _check_name(name)
    engine = _admin_engine(backend)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        engine.dispose()


def _check_name(name: str) -> None:
    if not name.startswith(_PREFIX) or not name.replace("_", "").isalnum() or len(name) > 60:
        raise ValueError(f"refusing to touch {name!r}: test namespaces are named {_PREFIX}<hex>")


class StoreSupplier:
    """A fresh, empty store location on one backend, removed again on exit.

    Example::

        with StoreSupplier("postgresql") as supplier:
            client = Client(supplier.url, artifact_root=supplier.artifact_root)
            ...
            client.close()

    On entry the backend is checked (:func:`unavailable`); an unreachable server raises
    ``RuntimeError`` with the reason (tests call :func:`unavailable` first and skip).
    On exit every engine opened through :meth:`open_client` is disposed, then the
    schema/database and the temporary folder (SQLite file, artifact blobs) are removed.
    """

    def __init__(self, backend: str, *, tmp_dir: str | os.PathLike | None = None) -> None:
        if backend == "mysql":
            backend = "mariadb"
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self._given_tmp = Path(tmp_dir) if tmp_dir is not None else None
        self.folder: Path | None = None
        self.namespace: str | None = None
        self.url = ""
        self._clients: list = []

    @property
    def artifact_root(self) -> Path:
        """A local folder for this store's artifact blobs."""
        assert self.folder is not None, "use StoreSupplier as a context manager"
        return self.folder / "artifacts"

    def __enter__(self) -> StoreSupplier:
        reason = unavailable(self.backend)
        if reason:
            raise RuntimeError(reason)
        self.folder = Path(tempfile.mkdtemp(prefix="sqltrack-store-", dir=self._given_tmp))
        if self.backend == "sqlite":
            self.url = f"sqlite:///{self.folder / 'sqltrack.db'}"
        else:
            self.namespace = f"{_PREFIX}{uuid.uuid4().hex[:16]}"
            create_namespace(self.backend, self.namespace)
            self.url = store_url_in(self.backend, self.namespace)
        return self

    def open_client(self, **kwargs):
        """A Client on this store (closed on exit); keyword arguments go to ``Client``."""
        from ..api.client import Client

        kwargs.setdefault("artifact_root", self.artifact_root)
        client = Client(self.url, **kwargs)
        self._clients.append(client)
        return client

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for client in self._clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - cleanup must go on
                pass
        self._clients.clear()
        if self.namespace is not None:
            drop_namespace(self.backend, self.namespace)
            self.namespace = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def leftover_namespaces(backend: str) -> list[str]:
    """Test schemas/databases still on a server (left by killed test runs); for cleanup scripts."""
    engine = _admin_engine(backend)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                rows = conn.exec_driver_sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sqltrack\\_t\\_%%'")
            else:
                rows = conn.exec_driver_sql("SHOW DATABASES LIKE 'sqltrack\\_t\\_%%'")
            return sorted(row[0] for row in rows)
    finally:
        engine.dispose()
