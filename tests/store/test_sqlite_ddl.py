"""A SQLite store is created from pre-rendered DDL, and logging never builds the schema's tables.

``sqlite_ddl`` is generated from ``schema``; these tests fail when the two drift apart, and
when something on the logging path starts importing ``schema`` again (about 10 ms of every
cold start, plus the DDL's compilation on a new store).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from sqltrack import Client
from sqltrack.store import schema, sqlite_ddl
from sqltrack.store import sqlite_path as SQ
from sqltrack.store.views import create_views

REPO = Path(__file__).resolve().parents[2]


def test_the_sqlite_ddl_module_is_what_the_schema_renders():
    assert Path(sqlite_ddl.__file__).read_text() == schema.render_sqlite_ddl_module(), (
        "sqltrack/store/sqlite_ddl.py is out of date with schema.py; rewrite it with "
        "'python -m sqltrack.store.schema > sqltrack/store/sqlite_ddl.py'")


def _layout(path: Path) -> dict:
    """Every table's and index's definition as SQLite reports it, and the views' names."""
    db = sqlite3.connect(path)
    try:
        objects = db.execute("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                             "ORDER BY type, name").fetchall()
        layout: dict = {"objects": objects}
        for kind, name, _ in objects:
            if kind == "table":
                layout[name] = (db.execute(f'PRAGMA table_xinfo("{name}")').fetchall(),
                                db.execute(f'PRAGMA foreign_key_list("{name}")').fetchall(),
                                sorted(row[1:] for row in db.execute(f'PRAGMA index_list("{name}")')),
                                "WITHOUT ROWID" in db.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                                              (name,)).fetchone()[0],
                                "AUTOINCREMENT" in db.execute("SELECT sql FROM sqlite_master WHERE name = ?",
                                                              (name,)).fetchone()[0])
            elif kind == "index":
                layout[name] = db.execute(f'PRAGMA index_xinfo("{name}")').fetchall()
        return layout
    finally:
        db.close()


def test_a_new_store_has_the_tables_and_indexes_that_create_all_makes(tmp_path):
    Client(tmp_path / "new.db").close()
    engine = create_engine(f"sqlite:///{tmp_path / 'create_all.db'}")
    with engine.begin() as conn:
        schema.metadata.create_all(conn)
        create_views(conn)
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    engine.dispose()
    new, reference = _layout(tmp_path / "new.db"), _layout(tmp_path / "create_all.db")
    assert len(reference["objects"]) > 20
    assert new == reference


def test_the_sqlite_latest_columns_are_the_tables():
    columns = [c.name for c in schema.latest_metrics.columns]
    assert columns[:2] == ["run_id", "key_id"]
    assert SQ.LATEST_COLUMNS == columns[2:]


LOG = """
import sys
import sqltrack as mlflow

mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run():
    mlflow.log_param("alpha", 0.5)
    mlflow.set_tag("model", "ridge")
    mlflow.log_metric("loss", 0.25, step=1)
    mlflow.log_metrics({"loss": 0.125, "acc": 0.75}, step=2)
print("built" if "sqltrack.store.schema" in sys.modules else "not built")
"""


def test_logging_into_a_sqlite_store_never_builds_the_tables(tmp_path):
    store = tmp_path / "store.db"
    for _ in ("new store", "existing store"):
        done = subprocess.run([sys.executable, "-c", LOG, str(store)], capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "not built"
    run = Client(store).search_runs(["0"])[0]  # a search builds them, and sees what was logged
    assert run.data.params == {"alpha": "0.5"} and run.data.metrics == {"loss": 0.125, "acc": 0.75}
    assert run.data.tags["model"] == "ridge"
