"""Schema creation and upgrades: new stores at head, every old fixture store upgrades, newer stores refused."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from sqltrack import Client
from sqltrack.errors import SchemaVersionError
from sqltrack.store import schema
from sqltrack.store.alembic_config import head_revision, make_config, run_upgrade

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"


def _shape(url: str) -> dict:
    engine = create_engine(url)
    insp = inspect(engine)
    shape = {}
    for table in insp.get_table_names():
        columns = tuple((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table))
        indexes = tuple(sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)))
        options = insp.get_table_options(table)  # SQLite: sqlite_with_rowid=False for WITHOUT ROWID tables
        if engine.dialect.name == "sqlite":  # the inspector does not report AUTOINCREMENT
            with engine.connect() as conn:
                sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar() or ""
            options = {**options, "autoincrement": "AUTOINCREMENT" in sql}
        shape[table] = (columns, indexes, tuple(insp.get_pk_constraint(table)["constrained_columns"]), options)
    shape["views"] = tuple(sorted(insp.get_view_names()))
    engine.dispose()
    return shape


def test_code_revision_is_alembic_head():
    assert schema.SCHEMA_REVISION == head_revision()


def test_new_store_equals_migrated_empty_database(tmp_path):
    Client(tmp_path / "created.db").close()
    engine = create_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    with engine.begin() as conn:
        run_upgrade(conn)
    engine.dispose()
    created, migrated = _shape(f"sqlite:///{tmp_path / 'created.db'}"), _shape(f"sqlite:///{tmp_path / 'migrated.db'}")
    created.pop("store_info", None), migrated.pop("store_info", None)
    assert created == migrated


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.db")), ids=lambda p: p.stem)
def test_every_fixture_revision_upgrades_and_stays_usable(tmp_path, fixture):
    path = tmp_path / fixture.name
    shutil.copy(fixture, path)
    shutil.copytree(fixture.with_suffix(".artifacts"), tmp_path / "artifacts")
    client = Client(path, artifact_root=tmp_path / "artifacts")
    [experiment] = [e for e in client.search_experiments() if e.name == "fixture"]
    found = client.search_runs([experiment.experiment_id], order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in found] == ["run-0", "run-1", "run-2"]
    history = client.get_metric_history(found[2].info.run_id, "loss")
    assert [p.value for p in history] == [math.inf] * 3
    assert client.load_text(found[0].info.run_id, "notes.txt") == "run 0"
    new_run = client.create_run(experiment.experiment_id)
    client.log_metric(new_run.info.run_id, "loss", 1.0, synchronous=True)
    client.close()
    with create_engine(f"sqlite:///{path}").connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    if fixture.stem != head_revision():
        assert list(tmp_path.glob(f"{fixture.name}.backup-{fixture.stem}-*")), "an upgrade keeps a backup copy"


def _rows(path: Path, sql: str) -> list[tuple]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(sql)]
    engine.dispose()
    return rows


def _upgrade_file(path: Path, revision: str = "head") -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        run_upgrade(conn, revision)
    engine.dispose()


def _downgrade_file(path: Path, revision: str) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.downgrade(make_config(conn), revision)
    engine.dispose()


def test_0003_keeps_every_param_and_stores_them_by_key(tmp_path):
    """0003 rebuilds SQLite's params WITHOUT ROWID and indexes latest metrics with their kind."""
    path = tmp_path / "store.db"
    shutil.copy(FIXTURES / "0002_server_key_limits.db", path)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # more params than the fixture's, with numbers and long values
        conn.exec_driver_sql("INSERT INTO key_names (name) VALUES ('lr'), ('note')")
        conn.exec_driver_sql(
            "INSERT INTO params (run_id, key_id, value, value_num) SELECT r.id, k.id, "
            "CASE k.name WHEN 'lr' THEN '0.' || r.id ELSE printf('%.3000c', 'x') END, "
            "CASE k.name WHEN 'lr' THEN CAST('0.' || r.id AS REAL) END "
            "FROM runs r, key_names k WHERE k.name IN ('lr', 'note')")
    engine.dispose()
    query = "SELECT run_id, key_id, value, value_num FROM params ORDER BY run_id, key_id"
    before = _rows(path, query)
    assert len(before) == 9

    _upgrade_file(path)
    assert _rows(path, query) == before
    options = _rows(path, "SELECT sql FROM sqlite_master WHERE name = 'params'")[0][0]
    assert options.rstrip().endswith("WITHOUT ROWID")
    indexes = dict(_rows(path, "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'latest_metrics' "
                               "AND type = 'index' AND sql IS NOT NULL"))
    assert "ix_latest_metrics_key_value" not in indexes
    assert "(key_id, value, kind)" in indexes["ix_latest_metrics_key_value_kind"]
    assert _rows(path, "SELECT count(*) FROM params_view") == [(9,)], "the views still read params"
    client = Client(path, artifact_root=tmp_path / "artifacts")
    [experiment] = [e for e in client.search_experiments() if e.name == "fixture"]
    found = client.search_runs([experiment.experiment_id], "params.lr > 0.1 AND params.note LIKE 'xxx%'")
    assert sorted(r.data.params["index"] for r in found) == ["1", "2"]
    client.close()


def test_0003_downgrades_to_the_rowid_table(tmp_path):
    path = tmp_path / "store.db"
    shutil.copy(FIXTURES / "0002_server_key_limits.db", path)
    query = "SELECT run_id, key_id, value, value_num FROM params ORDER BY run_id, key_id"
    before = _rows(path, query)
    _upgrade_file(path)
    _downgrade_file(path, "0002_server_key_limits")
    assert _rows(path, query) == before
    assert not _rows(path, "SELECT sql FROM sqlite_master WHERE name = 'params'")[0][0].rstrip().endswith("ROWID")
    assert _shape(f"sqlite:///{path}") == _shape(f"sqlite:///{FIXTURES / '0002_server_key_limits.db'}")


_RUNS = "SELECT * FROM runs ORDER BY id"


def test_0004_keeps_every_run_and_id_and_never_reuses_a_purged_one(tmp_path):
    path = tmp_path / "store.db"
    shutil.copy(FIXTURES / "0003_search_read_paths.db", path)
    shutil.copytree(FIXTURES / "0003_search_read_paths.artifacts", tmp_path / "artifacts")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # the newest run purged before the upgrade: its id is free again
        conn.exec_driver_sql("DELETE FROM runs WHERE id = 2")
    engine.dispose()
    before = _rows(path, _RUNS)
    children = _rows(path, "SELECT run_id, count(*) FROM metrics GROUP BY run_id")

    _upgrade_file(path)
    assert _rows(path, _RUNS) == before
    assert _rows(path, "SELECT run_id, count(*) FROM metrics GROUP BY run_id") == children
    assert "AUTOINCREMENT" in _rows(path, "SELECT sql FROM sqlite_master WHERE name = 'runs'")[0][0]
    assert _rows(path, "SELECT seq FROM sqlite_sequence WHERE name = 'runs'") == [(before[-1][0],)]
    assert _rows(path, "SELECT count(*) FROM runs_view") == [(len(before),)], "the views still read runs"
    client = Client(path, artifact_root=tmp_path / "artifacts")
    [experiment] = [e for e in client.search_experiments() if e.name == "fixture"]
    assert sorted(r.info.run_name for r in client.search_runs([experiment.experiment_id])) == ["run-0", "run-2"]
    newest = client.create_run(experiment.experiment_id).info.run_id
    assert client.store.cached_run_id(newest) == before[-1][0] + 1
    client.delete_run(newest)
    client.store.write(lambda conn: conn.exec_driver_sql(f"DELETE FROM runs WHERE run_uuid = '{newest}'"))
    assert client.store.cached_run_id(client.create_run(experiment.experiment_id).info.run_id) == before[-1][0] + 2
    client.close()


def test_0004_downgrades_to_the_table_without_autoincrement(tmp_path):
    path = tmp_path / "store.db"
    shutil.copy(FIXTURES / "0003_search_read_paths.db", path)
    before = _rows(path, _RUNS)
    _upgrade_file(path)
    _downgrade_file(path, "0003_search_read_paths")
    assert _rows(path, _RUNS) == before
    assert _shape(f"sqlite:///{path}") == _shape(f"sqlite:///{FIXTURES / '0003_search_read_paths.db'}")


def test_0004_refuses_to_run_with_foreign_keys_on(tmp_path):
    """Dropping the old runs table with foreign keys on would cascade to every run's values."""
    path = tmp_path / "store.db"
    shutil.copy(FIXTURES / "0003_search_read_paths.db", path)
    before = _rows(path, "SELECT count(*) FROM metrics")
    engine = create_engine(f"sqlite:///{path}")
    with pytest.raises(RuntimeError, match="foreign_keys = OFF"):
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            conn.commit()
            with conn.begin():
                run_upgrade(conn)
    engine.dispose()
    assert _rows(path, "SELECT count(*) FROM metrics") == before
    assert _rows(path, "SELECT version_num FROM alembic_version") == [("0003_search_read_paths",)]


def test_store_from_a_newer_sqltrack_is_refused(store_path):
    Client(store_path).close()
    engine = create_engine(f"sqlite:///{store_path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        conn.execute(text("UPDATE store_info SET value = '9.9.9' WHERE key = 'library_version'"))
    engine.dispose()
    with pytest.raises(SchemaVersionError) as info:
        Client(store_path)
    message = str(info.value)
    assert "0099_from_the_future" in message and "9.9.9" in message and "Upgrade sqltrack" in message


def test_db_commands(store_path):
    from click.testing import CliRunner

    from sqltrack.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["--store", str(store_path), "db", "upgrade"])
    assert result.exit_code == 0 and "Upgraded from an empty database" in result.output
    result = runner.invoke(cli, ["--store", str(store_path), "db", "current", "--json"])
    assert result.exit_code == 0 and '"state": "current"' in result.output
    result = runner.invoke(cli, ["--store", str(store_path), "db", "upgrade"])
    assert "nothing to do" in result.output
