"""``sqltrack sql``: whatever text it is given, it cannot write, attach, load extensions or change pragmas.

Every statement goes through the library call (``sqltrack.sql``, the code path of the command)
and a representative set through the real command in a child process, as a user would run it.
Afterwards the store has the same content (schema, every row, settings) and no file was created.
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from sqltrack import Client

from ._scripts import run_cli

HOSTILE = [
    "INSERT INTO runs (run_uuid, experiment_id, status) VALUES ('x', 0, 'RUNNING')",
    "UPDATE runs SET status = 'FAILED'",
    "DELETE FROM metrics",
    "REPLACE INTO key_names (id, name) VALUES (1, 'x')",
    "INSERT INTO key_names (name) VALUES ('x') RETURNING id",
    "DROP TABLE runs",
    "DROP VIEW runs_view",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "CREATE TEMP VIEW evil AS SELECT 1",
    "CREATE TRIGGER evil AFTER INSERT ON runs BEGIN DELETE FROM runs; END",
    "CREATE INDEX evil ON runs (name)",
    "ALTER TABLE runs ADD COLUMN evil TEXT",
    "ATTACH DATABASE '{outside}/attached.db' AS evil",
    "ATTACH ':memory:' AS evil",
    "DETACH DATABASE main",
    "VACUUM",
    "VACUUM INTO '{outside}/copy.db'",
    "REINDEX",
    "ANALYZE",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA query_only = 0",
    "PRAGMA writable_schema = 1",
    "PRAGMA user_version = 7",
    "PRAGMA foreign_keys = OFF",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA temp_store_directory = '{outside}'",
    "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')",
    "SELECT writefile('{outside}/written.txt', 'x')",
    "SELECT readfile('/etc/passwd')",
    "SELECT 1; DROP TABLE runs",
    "SELECT 1; ATTACH ':memory:' AS x",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s",
    "COMMIT",
    "WITH d AS (SELECT 1) DELETE FROM runs",
]


def _fingerprint(path) -> str:
    """The content of the store: its schema and every row of every table."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest = hashlib.sha256()
        for (sql_text,) in db.execute("SELECT sql FROM sqlite_master ORDER BY type, name"):
            digest.update(str(sql_text).encode())
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for name in names:
            for row in db.execute(f'SELECT * FROM "{name}" ORDER BY 1'):
                digest.update(repr(row).encode())
        for pragma in ("user_version", "journal_mode", "application_id"):
            digest.update(repr(db.execute(f"PRAGMA {pragma}").fetchall()).encode())
        return digest.hexdigest()
    finally:
        db.close()


@pytest.fixture
def store(store_path):
    try:
        from sqltrack.query import sql as _  # noqa: F401
    except ImportError:
        pytest.skip("sqltrack.sql is not there yet (the query engineer is building it)")
    client = Client(store_path)
    run_id = client.create_run("0", run_name="r").info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.log_param(run_id, "p", "v")
    client.set_terminated(run_id)
    client.close()
    return store_path


def test_reading_works(store):
    done = run_cli(store, "sql", "SELECT run_name, status FROM runs_view", "--json")
    assert '"run_name": "r"' in done.stdout


COMMAND_SAMPLE = [HOSTILE[i] for i in (1, 5, 8, 13, 17, 21, 27, 28, 30)]


@pytest.mark.parametrize("statement", COMMAND_SAMPLE)
def test_the_command_refuses_and_changes_nothing(store, tmp_path, statement):
    outside = tmp_path / "outside"
    outside.mkdir()
    before = _fingerprint(store)
    done = run_cli(store, "sql", statement.format(outside=outside), check=False)
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith("Error:") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # a clear message, not a dump
    assert _fingerprint(store) == before
    assert list(outside.iterdir()) == []  # no attached, vacuumed or written file


@pytest.mark.parametrize("statement", HOSTILE)
def test_the_library_call_refuses_and_changes_nothing(store, tmp_path, statement):
    import sqltrack
    from sqltrack.errors import SqltrackError

    outside = tmp_path / "outside"
    outside.mkdir()
    before = _fingerprint(store)
    with pytest.raises(SqltrackError):
        sqltrack.sql(statement.format(outside=outside), tracking_uri=str(store))
    assert _fingerprint(store) == before
    assert list(outside.iterdir()) == []
