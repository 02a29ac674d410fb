"""Where the store lives: the only place that reads environment variables.

Resolution: an explicit URI > ``SQLTRACK_TRACKING_URI`` (or ``MLFLOW_TRACKING_URI``
when it names a database) > ``./sqltrack.db``. A plain path means a SQLite file;
anything with ``://`` is a SQLAlchemy URL. Artifacts go to ``SQLTRACK_ARTIFACT_ROOT``
if set, else to the folder ``<database name without .db>-artifacts`` beside a
SQLite file (``./sqltrack-artifacts`` for the default store).
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
    """A resolved store: the SQLAlchemy URL of its database and the folder of its artifacts."""

    url: str
    artifact_root: Path
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
    return Location(url=url, artifact_root=Path(root).expanduser().absolute(), given=given)


def _stem(path: Path) -> str:
    return path.stem if path.suffix in (".db", ".sqlite", ".sqlite3") else path.name


def _default_root_for_url(url: str) -> Path:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).absolute()
        return path.with_name(_stem(path) + "-artifacts")
    return Path.cwd() / "sqltrack-artifacts"


def experiment_from_env() -> tuple[str | None, str | None]:
    """(name, id) of the experiment the environment selects, as MLflow's variables do."""
    name = os.environ.get("SQLTRACK_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    eid = os.environ.get("SQLTRACK_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    return (None, eid) if eid else (name, None)
