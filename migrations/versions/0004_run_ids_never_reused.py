"""SQLite: a run's integer id is never given to another run (``AUTOINCREMENT``).

Without it SQLite numbers a new row ``max(id) + 1``, so once ``sqltrack gc`` purged the newest
runs, the next run took a purged run's id. A client that had looked that run up before (ids
are cached by run uuid) then read the newer run in its place: ``get_run`` returned the other
run, ``get_metric_history`` its points. With ``AUTOINCREMENT`` SQLite keeps the highest id
ever used in ``sqlite_sequence``; a stale id then finds nothing. The table is rebuilt with
every row and id kept. PostgreSQL sequences and MySQL/MariaDB (InnoDB) counters already never
go back: nothing changes there.

Revision ID: 0004_run_ids_never_reused
Revises: 0003_search_read_paths
Create Date: 2026-12-07

Frozen history: this script must not import sqltrack's current schema.
"""

from alembic import op

revision = "0004_run_ids_never_reused"
down_revision = "0003_search_read_paths"
branch_labels = None
depends_on = None

_ID = {True: "id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, ", False: "id INTEGER NOT NULL, "}
_KEY = {True: "", False: "PRIMARY KEY (id), "}
_COLUMNS = """(
    {id}run_uuid VARCHAR(32) NOT NULL,
    experiment_id BIGINT NOT NULL,
    name VARCHAR(250),
    user_id VARCHAR(256),
    status VARCHAR(9) NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    lifecycle_stage VARCHAR(20) DEFAULT 'active' NOT NULL,
    deleted_time BIGINT,
    artifact_uri TEXT,
    source_type VARCHAR(20),
    source_name VARCHAR(500),
    entry_point_name VARCHAR(50),
    source_version VARCHAR(50),
    last_activity_time BIGINT,
    {key}CONSTRAINT uq_runs_run_uuid UNIQUE (run_uuid),
    FOREIGN KEY(experiment_id) REFERENCES experiments (experiment_id) ON DELETE CASCADE
)"""
_NAMES = ("id, run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, "
          "deleted_time, artifact_uri, source_type, source_name, entry_point_name, source_version, "
          "last_activity_time")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_runs(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_runs(autoincrement=False)


def _rebuild_sqlite_runs(autoincrement: bool) -> None:
    """Copy runs, ids included, into a table of the same columns, then swap it in (as 0003 does for params).

    Rows copied with their ids into an ``AUTOINCREMENT`` table set ``sqlite_sequence`` to the
    highest of them. The tables that reference runs name it, not the copy: with foreign keys
    off (sqltrack's setting on SQLite) nothing checks or rewrites them during the swap.
    """
    if op.get_bind().exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("Schema upgrade 0004 rebuilds the runs table and needs PRAGMA foreign_keys = OFF: with "
                           "it on, dropping the old table would delete every run's params, metrics and tags. "
                           "Nothing was changed; upgrade with 'sqltrack db upgrade --store <path>' instead.")
    columns = _COLUMNS.format(id=_ID[autoincrement], key=_KEY[autoincrement])
    op.execute(f"CREATE TABLE _runs_0004 {columns}")
    op.execute(f"INSERT INTO _runs_0004 ({_NAMES}) SELECT {_NAMES} FROM runs ORDER BY id")
    op.execute("DROP TABLE runs")
    legacy = op.get_bind().exec_driver_sql("PRAGMA legacy_alter_table").scalar()
    op.execute("PRAGMA legacy_alter_table = ON")
    op.execute("ALTER TABLE _runs_0004 RENAME TO runs")
    op.execute(f"PRAGMA legacy_alter_table = {'ON' if legacy else 'OFF'}")
    op.create_index("ix_runs_experiment_start", "runs", ["experiment_id", "lifecycle_stage", "start_time"])
