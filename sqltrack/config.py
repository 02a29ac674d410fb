"""Where the store lives: the only place that reads environment variables.

Resolution: an explicit URI > ``SQLTRACK_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``
when it names a database) > ``./sqltrack.db``. A plain path means a SQLite file;
anything with ``://`` is a SQLAlchemy URL. Artifacts go to ``SQLTRACK_ARTIFACT_ROOT``
if set, else to the folder ``<database name without .db>-artifacts`` beside a
SQLite file (``./sqltrack-artifacts`` for the default store and for server URLs).
An artifact root is a folder (a local disk or a shared network mount) or an fsspec URL
such as ``s3://bucket/prefix`` or ``memory://name``; a URL is kept as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DB_NAME = "sqltrack.db"
ENV_URI = "SQLTRACK_TRACKING_URI"
ENV_ARTIFACT_ROOT = "SQLTRACK_ARTIFACT_ROOT"


@dataclass(frozen=True)
class Location:
    """A resolved store: the SQLAlchemy URL of its database and where its artifacts go."""

    url: str
    artifact_root: Path | str  # a local folder, or an fsspec URL (str)
    given: str  # what the user wrote, for messages


def tracking_uri_from_env() -> str | None:
    """The tracking URI that the environment asks for, if any."""
    value = os.environ.get(ENV_URI)
    if value:
        return value
    mlflow_value = os.environ.get("MLFLOW_TRACKING_URI", "")
    if mlflow_value.startswith(("sqlite:", "postgresql", "mysql", "mariadb")):
        return mlflow_value
    return None


def resolve(uri: str | os.PathLike | None = None, artifact_root: str | os.PathLike | None = None) -> Location:
    """Turn a path, SQLAlchemy URL or nothing into a Location."""
    given = str(uri) if uri is not None else (tracking_uri_from_env() or DEFAULT_DB_NAME)
    if "://" not in given and not given.startswith("sqlite:"):
        path = Path(given).expanduser().absolute()
        url = f"sqlite:///{path}"
        default_root = path.with_name(_stem(path) + "-artifacts")
    else:
        url = given
        default_root = _default_root_for_url(given)
    root = artifact_root or os.environ.get(ENV_ARTIFACT_ROOT) or default_root
    return Location(url=url, artifact_root=artifact_root_location(root), given=given)


def is_url(location: str | os.PathLike) -> bool:
    """Whether an artifact root is a URL (``scheme://...``) rather than a local path."""
    return isinstance(location, str) and "://" in location


def artifact_root_location(root: str | os.PathLike) -> Path | str:
    """An artifact root as the store keeps it: an absolute local Path, or a URL string unchanged."""
    if is_url(root):
        return str(root)
    return Path(root).expanduser().absolute()


def _stem(path: Path) -> str:
    return path.stem if path.suffix in (".db", ".sqlite", ".sqlite3") else path.name


def _default_root_for_url(url: str) -> Path:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).absolute()
        return path.with_name(_stem(path) + "-artifacts")
    return Path.cwd() / "sqltrack-artifacts"


#: Connection pool of a server store, per process: at most POOL_SIZE + MAX_OVERFLOW connections.
ENV_POOL_SIZE = "SQLTRACK_POOL_SIZE"
ENV_MAX_OVERFLOW = "SQLTRACK_MAX_OVERFLOW"
ENV_POOL_RECYCLE = "SQLTRACK_POOL_RECYCLE"
ENV_POOL_TIMEOUT = "SQLTRACK_POOL_TIMEOUT"


@dataclass(frozen=True)
class PoolSettings:
    """How many connections one process keeps to a database server (SQLite has its own settings).

    The defaults suit a training process (one writer, the flush thread, an occasional read):
    2 kept open plus up to 3 more under load, so 16 processes hold at most 80 connections,
    within PostgreSQL's default ``max_connections`` of 100 and MariaDB's 151. Connections
    are replaced after ``recycle`` seconds (below MySQL's ``wait_timeout``), and a process
    waits ``timeout`` seconds for a free one before failing.
    """

    size: int = 2
    max_overflow: int = 3
    recycle: int = 1800
    timeout: float = 30.0


def pool_settings() -> PoolSettings:
    """The server connection pool settings: ``SQLTRACK_POOL_SIZE``, ``SQLTRACK_MAX_OVERFLOW``,
    ``SQLTRACK_POOL_RECYCLE`` (seconds) and ``SQLTRACK_POOL_TIMEOUT`` (seconds), else the defaults."""
    default = PoolSettings()
    return PoolSettings(size=_env_number(ENV_POOL_SIZE, default.size, int, minimum=1),
                        max_overflow=_env_number(ENV_MAX_OVERFLOW, default.max_overflow, int, minimum=0),
                        recycle=_env_number(ENV_POOL_RECYCLE, default.recycle, int, minimum=-1),
                        timeout=_env_number(ENV_POOL_TIMEOUT, default.timeout, float, minimum=0))


#: SQLite page cache per connection, in MiB (SQLite's own default is 2 MiB).
ENV_SQLITE_CACHE_MB = "SQLTRACK_SQLITE_CACHE_MB"
SQLITE_CACHE_MB = 64


def sqlite_cache_mb() -> int:
    """Page cache per SQLite connection in MiB (``SQLTRACK_SQLITE_CACHE_MB``, default 64).

    Pages are cached only once read, so a logging process stays small; a process that searches
    a large store again and again reads it from memory instead of through the OS.
    """
    return _env_number(ENV_SQLITE_CACHE_MB, SQLITE_CACHE_MB, int, minimum=0)


def _env_number(name: str, default, kind, minimum):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        from .errors import InvalidParameter

        raise InvalidParameter(f"{name}={text!r} is not valid: give {'an integer' if kind is int else 'a number'} "
                               f">= {minimum}, or unset it for the default ({default}).")
    return value


def experiment_from_env() -> tuple[str | None, str | None]:
    """(name, id) of the experiment the environment selects, as MLflow's variables do."""
    name = os.environ.get("SQLTRACK_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    eid = os.environ.get("SQLTRACK_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    return (None, eid) if eid else (name, None)
