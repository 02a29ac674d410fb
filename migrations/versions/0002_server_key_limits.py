"""Server backends: long param/tag values fit PostgreSQL's index; MySQL keys compare exactly.

PostgreSQL: index params/tags values by their first 256 characters, so long values fit.

A PostgreSQL btree entry must stay under ~2.7 KB, and param/tag values may be 1,000,000
characters long: with ``(key_id, value)`` indexed whole, logging a long value failed with
"index row requires N bytes". On PostgreSQL the two indexes become
``(key_id, (left(value, 256) COLLATE "C"))``. PostgreSQL also gets
``ix_runs_experiment_order`` (experiment, lifecycle stage, ``start_time DESC NULLS LAST``,
``run_uuid COLLATE "C"``): the default run order read from an index, so an unfiltered
search stops after its LIMIT instead of sorting every run.

MySQL/MariaDB: key names, experiment names, experiment tag keys and artifact paths were
``utf8mb4_bin``, which ignores trailing spaces, so the keys ``'loss'`` and ``'loss '`` were
one row (and logging the second failed). They become NO PAD: ``utf8mb4_nopad_bin`` on
MariaDB, ``utf8mb4_0900_bin`` on MySQL 8.0.17+ (older MySQL keeps ``utf8mb4_bin``).

SQLite is unchanged.

Revision ID: 0002_server_key_limits
Revises: 0001_initial
Create Date: 2026-11-29

Frozen history: this script must not import sqltrack's current schema.
"""

from alembic import op

revision = "0002_server_key_limits"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

TABLES = ("params", "tags")
PREFIX_CHARS = 256
# (table, column, length, nullable) of the exact-match VARCHARs, as 0001 created them
EXACT_COLUMNS = (("key_names", "name", 250, False), ("experiments", "name", 500, False),
                 ("experiment_tags", "key", 250, False), ("artifacts", "path", 700, False))


def _mysql_exact_collation(dialect) -> str:
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    version = getattr(dialect, "server_version_info", None) or (0,)
    return "utf8mb4_0900_bin" if version >= (8, 0, 17) else "utf8mb4_bin"


def _mysql_columns(collation: str) -> None:
    for table, column, length, nullable in EXACT_COLUMNS:
        null = "NULL" if nullable else "NOT NULL"
        op.execute(f"ALTER TABLE `{table}` MODIFY `{column}` VARCHAR({length}) "
                   f"CHARACTER SET utf8mb4 COLLATE {collation} {null}")


def upgrade() -> None:
    dialect = op.get_bind().dialect
    if dialect.name in ("mysql", "mariadb"):
        _mysql_columns(_mysql_exact_collation(dialect))
        return
    if dialect.name != "postgresql":
        return
    for table in TABLES:
        op.drop_index(f"ix_{table}_key_value", table_name=table)
        op.execute(f'CREATE INDEX ix_{table}_key_value_prefix ON {table} '
                   f'(key_id, (left(value, {PREFIX_CHARS}) COLLATE "C"))')
    op.execute('CREATE INDEX ix_runs_experiment_order ON runs '
               '(experiment_id, lifecycle_stage, start_time DESC NULLS LAST, (run_uuid COLLATE "C"))')


def downgrade() -> None:
    dialect = op.get_bind().dialect
    if dialect.name in ("mysql", "mariadb"):
        _mysql_columns("utf8mb4_bin")
        return
    if dialect.name != "postgresql":
        return
    op.drop_index("ix_runs_experiment_order", table_name="runs")
    for table in TABLES:
        op.drop_index(f"ix_{table}_key_value_prefix", table_name=table)
        op.create_index(f"ix_{table}_key_value", table, ["key_id", "value"])
