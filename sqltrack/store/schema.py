"""The tables of a sqltrack store, as SQLAlchemy Core metadata.

Design notes (see docs/storage.md):
- runs and key names get integer surrogate ids; the 32-hex ``run_uuid`` is stored once.
- ``metrics`` holds every point; its primary key is the whole row, so a point is
  stored once and an exact duplicate is ignored, as in MLflow.
- Non-finite values: ``kind`` says FINITE/NAN/POS_INF/NEG_INF (see ``values.py``);
  ``value`` keeps a number that sorts right on every backend.
- ``latest_metrics`` is one row per (run, key): the latest point by (step, timestamp,
  value) plus history aggregates, maintained in the same transaction as the points.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

#: The Alembic revision that this code's tables correspond to.
SCHEMA_REVISION = "0001_initial"

metadata = MetaData()

# MySQL TEXT holds 64 KiB - 1; our limits need more, and index prefixes need lengths.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Double = Float(precision=53).with_variant(mysql.DOUBLE(), "mysql", "mariadb")


def _exact_string(length: int) -> String:
    """A VARCHAR that compares case-sensitively on every backend (MySQL needs a binary collation)."""
    variant = mysql.VARCHAR(length, collation="utf8mb4_bin")
    return String(length).with_variant(variant, "mysql", "mariadb")


KeyString = _exact_string(250)

store_info = Table(
    "store_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", _exact_string(500), nullable=False),
    Column("artifact_location", Text),
    Column("lifecycle_stage", String(32), nullable=False, server_default="active"),
    Column("creation_time", BigInteger),
    Column("last_update_time", BigInteger),
    UniqueConstraint("name", name="uq_experiments_name"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", BigInteger, ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", KeyString, primary_key=True),
    Column("value", LongText),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_uuid", String(32), nullable=False),
    Column("experiment_id", BigInteger, ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
           nullable=False),
    Column("name", String(250)),
    Column("user_id", String(256)),
    Column("status", String(9), nullable=False),
    Column("start_time", BigInteger),
    Column("end_time", BigInteger),
    Column("lifecycle_stage", String(20), nullable=False, server_default="active"),
    Column("deleted_time", BigInteger),
    Column("artifact_uri", Text),
    Column("source_type", String(20)),
    Column("source_name", String(500)),
    Column("entry_point_name", String(50)),
    Column("source_version", String(50)),
    Column("last_activity_time", BigInteger),
    UniqueConstraint("run_uuid", name="uq_runs_run_uuid"),
)
Index("ix_runs_experiment_start", runs.c.experiment_id, runs.c.lifecycle_stage, runs.c.start_time)

key_names = Table(
    "key_names",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", KeyString, nullable=False),
    UniqueConstraint("name", name="uq_key_names_name"),
)


def _run_fk() -> Column:
    return Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)


def _key_fk() -> Column:
    return Column("key_id", Integer, ForeignKey("key_names.id"), primary_key=True)


params = Table(
    "params",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("value", LongText, nullable=False),
    # the value as a number when it parses as one: numeric comparison of params
    Column("value_num", Double),
)
Index("ix_params_key_value", params.c.key_id, params.c.value,
      mysql_length={"value": 255}, mariadb_length={"value": 255})
Index("ix_params_key_num", params.c.key_id, params.c.value_num)

tags = Table(
    "tags",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("value", LongText, nullable=False),
)
Index("ix_tags_key_value", tags.c.key_id, tags.c.value,
      mysql_length={"value": 255}, mariadb_length={"value": 255})

metrics = Table(
    "metrics",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Double, primary_key=True, autoincrement=False),
    Column("kind", SmallInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("kind", SmallInteger, nullable=False),
    # aggregates over the whole history; NaN points are left out of min/max/avg
    Column("min_value", Double),
    Column("max_value", Double),
    Column("avg_value", Double),
    Column("sum_value", Double),
    Column("first_value", Double),
    Column("first_kind", SmallInteger),
    Column("first_step", BigInteger),
    Column("first_timestamp", BigInteger),
    Column("count", BigInteger, nullable=False),
    Column("nan_count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_latest_metrics_key_value", latest_metrics.c.key_id, latest_metrics.c.value)
Index("ix_latest_metrics_key_min", latest_metrics.c.key_id, latest_metrics.c.min_value)
Index("ix_latest_metrics_key_max", latest_metrics.c.key_id, latest_metrics.c.max_value)

artifacts = Table(
    "artifacts",
    metadata,
    _run_fk(),
    Column("path", _exact_string(700), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)
Index("ix_artifacts_digest", artifacts.c.digest)
