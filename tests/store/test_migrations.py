"""Schema creation and upgrades: new stores at head, every old fixture store upgrades, newer stores refused."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from sqltrack import Client
from sqltrack.errors import SchemaVersionError
from sqltrack.store import schema
from sqltrack.store.alembic_config import head_revision, run_upgrade

FIXTURES = Path(__file__).parent / "fixtures" / "migrations"


def _shape(url: str) -> dict:
    engine = create_engine(url)
    insp = inspect(engine)
    shape = {}
    for table in insp.get_table_names():
        columns = tuple((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table))
        indexes = tuple(sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)))
        shape[table] = (columns, indexes, tuple(insp.get_pk_constraint(table)["constrained_columns"]))
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
