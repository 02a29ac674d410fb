"""Initial schema: experiments, runs, interned keys, params, tags, metric points,
latest metrics with history aggregates, the artifact index, and the read-only views.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28

Frozen history: this script must not import sqltrack's current schema.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

VIEWS = {
    "experiments_view": "\n        SELECT e.experiment_id, e.name, e.lifecycle_stage, e.artifact_location,\n               e.creation_time, e.last_update_time\n        FROM experiments e",
    "runs_view": "\n        SELECT r.run_uuid AS run_id, r.experiment_id, r.name AS run_name, r.status, r.user_id,\n               r.start_time, r.end_time, r.end_time - r.start_time AS duration_ms,\n               r.lifecycle_stage, r.artifact_uri\n        FROM runs r",
    "params_view": '\n        SELECT r.run_uuid AS run_id, k.name AS "key", p.value, p.value_num\n        FROM params p JOIN runs r ON r.id = p.run_id JOIN key_names k ON k.id = p.key_id',
    "tags_view": '\n        SELECT r.run_uuid AS run_id, k.name AS "key", t.value\n        FROM tags t JOIN runs r ON r.id = t.run_id JOIN key_names k ON k.id = t.key_id',
    "metrics_view": '\n        SELECT r.run_uuid AS run_id, k.name AS "key", m.step, m.timestamp,\n               CASE WHEN m.kind = 1 THEN NULL ELSE m.value END AS value,\n               CASE WHEN m.kind = 1 THEN 1 ELSE 0 END AS is_nan\n        FROM metrics m JOIN runs r ON r.id = m.run_id JOIN key_names k ON k.id = m.key_id',
    "latest_metrics_view": '\n        SELECT r.run_uuid AS run_id, k.name AS "key",\n               CASE WHEN l.kind = 1 THEN NULL ELSE l.value END AS value,\n               CASE WHEN l.kind = 1 THEN 1 ELSE 0 END AS is_nan,\n               l.step, l.timestamp, l.min_value, l.max_value, l.avg_value,\n               CASE WHEN l.first_kind = 1 THEN NULL ELSE l.first_value END AS first_value,\n               l.count\n        FROM latest_metrics l JOIN runs r ON r.id = l.run_id JOIN key_names k ON k.id = l.key_id',
    "artifacts_view": "\n        SELECT r.run_uuid AS run_id, a.path, a.digest, a.size, a.created_time\n        FROM artifacts a JOIN runs r ON r.id = a.run_id",
}


def upgrade() -> None:

    op.create_table(
        "experiments",
        sa.Column(
            "experiment_id", sa.BigInteger(), autoincrement=False, nullable=False
        ),
        sa.Column(
            "name",
            sa.String(length=500)
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=500), "mariadb")
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=500), "mysql"),
            nullable=False,
        ),
        sa.Column("artifact_location", sa.Text(), nullable=True),
        sa.Column(
            "lifecycle_stage",
            sa.String(length=32),
            server_default="active",
            nullable=False,
        ),
        sa.Column("creation_time", sa.BigInteger(), nullable=True),
        sa.Column("last_update_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "key_names",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "name",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_key_names_name"),
    )
    op.create_table(
        "store_info",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "key",
            sa.String(length=250)
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=250), "mariadb")
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=250), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("experiment_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=9), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=True),
        sa.Column("end_time", sa.BigInteger(), nullable=True),
        sa.Column(
            "lifecycle_stage",
            sa.String(length=20),
            server_default="active",
            nullable=False,
        ),
        sa.Column("deleted_time", sa.BigInteger(), nullable=True),
        sa.Column("artifact_uri", sa.Text(), nullable=True),
        sa.Column("source_type", sa.String(length=20), nullable=True),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("entry_point_name", sa.String(length=50), nullable=True),
        sa.Column("source_version", sa.String(length=50), nullable=True),
        sa.Column("last_activity_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_uuid", name="uq_runs_run_uuid"),
    )
    op.create_index(
        "ix_runs_experiment_start",
        "runs",
        ["experiment_id", "lifecycle_stage", "start_time"],
        unique=False,
    )
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column(
            "path",
            sa.String(length=700)
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=700), "mariadb")
            .with_variant(mysql.VARCHAR(collation="utf8mb4_bin", length=700), "mysql"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "path"),
    )
    op.create_index("ix_artifacts_digest", "artifacts", ["digest"], unique=False)
    op.create_table(
        "latest_metrics",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column(
            "value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=False,
        ),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column(
            "min_value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "max_value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "avg_value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "sum_value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.Column(
            "first_value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.Column("first_kind", sa.SmallInteger(), nullable=True),
        sa.Column("first_step", sa.BigInteger(), nullable=True),
        sa.Column("first_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("nan_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["key_names.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key_id"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_latest_metrics_key_max",
        "latest_metrics",
        ["key_id", "max_value"],
        unique=False,
    )
    op.create_index(
        "ix_latest_metrics_key_min",
        "latest_metrics",
        ["key_id", "min_value"],
        unique=False,
    )
    op.create_index(
        "ix_latest_metrics_key_value",
        "latest_metrics",
        ["key_id", "value"],
        unique=False,
    )
    op.create_table(
        "metrics",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("timestamp", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "value",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["key_names.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(
            "run_id", "key_id", "step", "timestamp", "value", "kind"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "params",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.Column(
            "value_num",
            sa.Float(precision=53)
            .with_variant(mysql.DOUBLE(asdecimal=True), "mariadb")
            .with_variant(mysql.DOUBLE(asdecimal=True), "mysql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["key_names.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key_id"),
    )
    op.create_index(
        "ix_params_key_num", "params", ["key_id", "value_num"], unique=False
    )
    op.create_index(
        "ix_params_key_value",
        "params",
        ["key_id", "value"],
        unique=False,
        mysql_length={"value": 255},
        mariadb_length={"value": 255},
    )
    op.create_table(
        "tags",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column(
            "value",
            sa.Text()
            .with_variant(mysql.MEDIUMTEXT(), "mariadb")
            .with_variant(mysql.MEDIUMTEXT(), "mysql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["key_names.id"],
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key_id"),
    )
    op.create_index(
        "ix_tags_key_value",
        "tags",
        ["key_id", "value"],
        unique=False,
        mysql_length={"value": 255},
        mariadb_length={"value": 255},
    )

    bind = op.get_bind()
    for name, body in VIEWS.items():
        if bind.dialect.name in ("mysql", "mariadb"):
            body = body.replace('"key"', "`key`")
        op.execute(f"CREATE VIEW {name} AS {body.strip()}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
    for table in (
        "artifacts",
        "latest_metrics",
        "metrics",
        "tags",
        "params",
        "key_names",
        "runs",
        "experiment_tags",
        "experiments",
        "store_info",
    ):
        op.drop_table(table)
