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

import math

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
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy import Double as _SQLDouble
from sqlalchemy.ext.compiler import compiles

from .revision import SCHEMA_REVISION as SCHEMA_REVISION  # re-exported: the revision these tables match
from .values import MAX_FLOAT

metadata = MetaData()

# MySQL/MariaDB types are spelled without importing ``sqlalchemy.dialects.mysql``, which loads
# every MySQL driver module (~12 ms of a SQLite process's cold start).
_MYSQL = ("mysql", "mariadb")


class _MediumText(Text):
    """MEDIUMTEXT on MySQL/MariaDB, whose TEXT holds only 64 KiB - 1; our limits need more."""


@compiles(_MediumText, "mysql")
@compiles(_MediumText, "mariadb")
def _compile_medium_text(type_: _MediumText, compiler, **kw) -> str:
    return "MEDIUMTEXT"


LongText = Text().with_variant(_MediumText(), *_MYSQL)
# asdecimal=False: SQLAlchemy's MySQL DOUBLE otherwise returns Decimals rounded to 10 places (5e-324 → 0).
Double = Float(precision=53).with_variant(_SQLDouble(asdecimal=False), *_MYSQL)


class _ExactVarchar(String):
    """A MySQL/MariaDB VARCHAR compared code point by code point, trailing spaces included.

    ``utf8mb4_bin`` is case-sensitive but PAD SPACE: ``'loss'`` and ``'loss '`` would be one
    key. MariaDB's ``utf8mb4_nopad_bin`` and MySQL 8's ``utf8mb4_0900_bin`` are NO PAD;
    older MySQL has only ``utf8mb4_bin``.
    """


@compiles(_ExactVarchar, "mysql")
@compiles(_ExactVarchar, "mariadb")
def _compile_exact_varchar(type_: _ExactVarchar, compiler, **kw) -> str:
    return f"VARCHAR({type_.length}) CHARACTER SET utf8mb4 COLLATE {exact_collation(compiler.dialect)}"


def exact_collation(dialect) -> str:
    """The NO PAD binary collation of a MySQL/MariaDB server (see ``_ExactVarchar``)."""
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    version = getattr(dialect, "server_version_info", None) or (0,)
    return "utf8mb4_0900_bin" if version >= (8, 0, 17) else "utf8mb4_bin"


def _exact_string(length: int) -> String:
    """A VARCHAR that compares exactly on every backend (MySQL needs a binary, NO PAD collation)."""
    return String(length).with_variant(_ExactVarchar(length), *_MYSQL)


KeyString = _exact_string(250)


class _MaxFloatAsInfinity(TypeDecorator):
    """A MySQL DOUBLE for aggregates, which have no ``kind`` column: ±inf is stored as ±max-float
    (MySQL has no infinity) and ±max-float reads back as ±inf, so every backend returns the same."""

    impl = _SQLDouble
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(asdecimal=False)

    def process_bind_param(self, value, dialect):
        if value is not None and math.isinf(value):
            return math.copysign(MAX_FLOAT, value)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and abs(value) >= MAX_FLOAT:
            return math.copysign(math.inf, value)
        return value


#: History aggregates (min/max/avg/sum): ±inf survive on MySQL/MariaDB as ±max-float.
AggregateDouble = Float(precision=53).with_variant(_MaxFloatAsInfinity(), *_MYSQL)

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
    sqlite_autoincrement=True,  # a purged run's id is never given to a newer run (migration 0004)
)
Index("ix_runs_experiment_start", runs.c.experiment_id, runs.c.lifecycle_stage, runs.c.start_time)
# PostgreSQL: the default run order (start_time DESC NULLS LAST, then run_uuid in code-point
# order) straight from an index, so an unfiltered search stops after its LIMIT (0.1 ms instead
# of sorting every run: 40-70 ms at 100,000 runs). SQLite already reads it from the index above.
Index("ix_runs_experiment_order", runs.c.experiment_id, runs.c.lifecycle_stage, runs.c.start_time.desc().nulls_last(),
      runs.c.run_uuid.collate("C")).ddl_if(dialect="postgresql")

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


#: Characters of a param/tag value that PostgreSQL indexes (see ``_value_indexes``).
VALUE_INDEX_PREFIX = 256


def _not_postgresql(ddl, target, bind, **kw) -> bool:
    return kw["dialect"].name != "postgresql"


def _mysql_prefix_lengths(table: Table, bind, **kw) -> None:
    """Give a MySQL/MariaDB value index its prefix length just before it is created.

    Set here rather than as ``Index(mysql_length=...)``, which would import SQLAlchemy's
    MySQL dialect in every process (see ``_MYSQL``).
    """
    if bind.dialect.name in _MYSQL:
        index = next(ix for ix in table.indexes if ix.name == f"ix_{table.name}_key_value")
        index.dialect_kwargs[f"{bind.dialect.name}_length"] = {"value": 255}


def _value_indexes(table: Table) -> None:
    """The ``(key_id, value)`` index of params/tags, within each backend's key-length limit.

    Values may be 1,000,000 characters long. MySQL/MariaDB index a 255-character prefix
    (``mysql_length``). A PostgreSQL btree entry must stay under ~2.7 KB, so there the index
    is on ``left(value, 256)`` (at most 1 KB of UTF-8), in the "C" collation so that prefix
    LIKE can use it too; the search compiler's PostgreSQL entry tests that expression first
    (``sqltrack.query.dialects``). SQLite has no limit.
    """
    event.listen(table, "before_create", _mysql_prefix_lengths)
    Index(f"ix_{table.name}_key_value", table.c.key_id, table.c.value).ddl_if(callable_=_not_postgresql)
    Index(f"ix_{table.name}_key_value_prefix", table.c.key_id,
          func.left(table.c.value, VALUE_INDEX_PREFIX).collate("C")).ddl_if(dialect="postgresql")


params = Table(
    "params",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("value", LongText, nullable=False),
    # the value as a number when it parses as one: numeric comparison of params
    Column("value_num", Double),
    # SQLite: rows live in (run_id, key_id) order, so a run's params are one B-tree range
    sqlite_with_rowid=False,
)
_value_indexes(params)
Index("ix_params_key_num", params.c.key_id, params.c.value_num)

tags = Table(
    "tags",
    metadata,
    _run_fk(),
    _key_fk(),
    Column("value", LongText, nullable=False),
)
_value_indexes(tags)

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
    Column("min_value", AggregateDouble),
    Column("max_value", AggregateDouble),
    Column("avg_value", AggregateDouble),
    Column("sum_value", AggregateDouble),
    Column("first_value", Double),
    Column("first_kind", SmallInteger),
    Column("first_step", BigInteger),
    Column("first_timestamp", BigInteger),
    Column("count", BigInteger, nullable=False),
    Column("nan_count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
# with kind: `metrics.m > x` (finite values only) is answered from the index alone
Index("ix_latest_metrics_key_value_kind", latest_metrics.c.key_id, latest_metrics.c.value, latest_metrics.c.kind)
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


def render_sqlite_ddl_module() -> str:
    """The source of ``sqlite_ddl``: what ``metadata.create_all`` sends to SQLite, in its order.

    A new SQLite store is created from those statements, without building this module's tables
    at all (a cold start's 10 ms); ``tests/store/test_sqlite_ddl.py`` fails when they differ.
    """
    from sqlalchemy import create_mock_engine

    statements: list[str] = []

    def collect(ddl, *args, **kwargs) -> None:
        text = str(ddl.compile(dialect=engine.dialect)).strip().replace("\t", "    ")
        statements.append("\n".join(line.rstrip() for line in text.splitlines()))

    engine = create_mock_engine("sqlite://", collect)
    metadata.create_all(engine, checkfirst=False)
    statements = _indexes_sorted(statements)
    assert not any('"""' in statement or "\\" in statement for statement in statements)
    body = "".join(f'    """{statement}""",\n' for statement in statements)
    return (f'''"""SQLite's DDL of a new store at schema revision {SCHEMA_REVISION}: generated, do not edit.

Made by ``schema.render_sqlite_ddl_module()`` from the tables in ``schema``; rewrite it with
``python -m sqltrack.store.schema > sqltrack/store/sqlite_ddl.py``.
"""

STATEMENTS = (
{body})
''')


def _indexes_sorted(statements: list[str]) -> list[str]:
    """Each table's CREATE INDEX statements by name: ``create_all`` sends them in a set's order."""
    out: list[str] = []
    indexes: list[str] = []
    for statement in [*statements, ""]:
        if statement.startswith("CREATE INDEX"):
            indexes.append(statement)
            continue
        out += sorted(indexes)
        indexes = []
        if statement:
            out.append(statement)
    return out


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_sqlite_ddl_module())
