"""Schema creation and upgrades on PostgreSQL and MariaDB (``store_url`` is backend-parametrised).

* an out-of-date server database is refused, naming ``sqltrack db upgrade --store URL``,
  and that command upgrades it (a shared database is never upgraded implicitly);
* a database created at head has exactly the shape of one migrated from 0001;
* several processes creating the schema of an empty database at once are safe (a lock on
  the server, not a file lock).
"""

from __future__ import annotations

import multiprocessing as mp
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select, text

from sqltrack import Client
from sqltrack.cli import cli
from sqltrack.errors import SchemaOutOfDate, SchemaVersionError
from sqltrack.store import schema
from sqltrack.store.alembic_config import run_upgrade

pytestmark = pytest.mark.servers_only


def _migrate_to(url: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            run_upgrade(conn, revision)
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def test_an_old_server_database_is_refused_until_upgraded_by_the_command(store_url, tmp_path):
    _migrate_to(store_url, "0001_initial")
    with pytest.raises(SchemaOutOfDate) as refused:
        Client(store_url, artifact_root=tmp_path / "artifacts")
    message = str(refused.value)
    assert f"sqltrack db upgrade --store {_shown(store_url)}" in message
    assert "never upgraded implicitly" in message
    engine = create_engine(store_url)
    with engine.connect() as conn:  # the refusal changed nothing
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001_initial"
    engine.dispose()

    result = CliRunner().invoke(cli, ["--store", store_url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"Upgraded from 0001_initial to {schema.SCHEMA_REVISION}" in result.output
    current = CliRunner().invoke(cli, ["--store", store_url, "db", "current", "--json"])
    assert '"state": "current"' in current.output

    client = Client(store_url, artifact_root=tmp_path / "artifacts")
    eid = client.create_experiment("after the upgrade")
    run_id = client.create_run(eid).info.run_id
    client.log_param(run_id, "long", "x" * 100_000, synchronous=True)  # fits the upgraded index
    assert client.search_runs([eid], "params.long LIKE 'xxx%'")[0].info.run_id == run_id
    client.close()


def test_a_store_newer_than_this_sqltrack_is_refused(store_url, tmp_path):
    Client(store_url, artifact_root=tmp_path / "a").close()
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999_from_the_future'"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="Upgrade sqltrack"):
        Client(store_url, artifact_root=tmp_path / "a")


def _shape(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            shape = {}
            for table in insp.get_table_names():
                columns = tuple((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table))
                shape[table] = (columns, tuple(insp.get_pk_constraint(table)["constrained_columns"]),
                                tuple(sorted(u["name"] for u in insp.get_unique_constraints(table))))
            shape["views"] = tuple(sorted(insp.get_view_names()))
            shape["indexes"] = _index_definitions(conn)
            shape["collations"] = _collations(conn)
    finally:
        engine.dispose()
    shape.pop("store_info", None)
    return shape


def _index_definitions(conn) -> tuple:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                                 "AND tablename != 'alembic_version'"))  # its key is named by whoever made it
        return tuple(sorted((name, re.sub(r"sqltrack_t_[0-9a-f]+\.", "", definition)) for name, definition in rows))
    rows = conn.execute(text(
        "SELECT table_name, index_name, seq_in_index, column_name, sub_part FROM information_schema.statistics "
        "WHERE table_schema = DATABASE() AND table_name != 'alembic_version'"))
    return tuple(sorted(tuple(row) for row in rows))


def _collations(conn) -> tuple:
    if conn.dialect.name == "postgresql":
        return ()
    rows = conn.execute(text("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                             "WHERE table_schema = DATABASE() AND collation_name IS NOT NULL"))
    return tuple(sorted(tuple(row) for row in rows))


def test_created_equals_migrated(store_url, tmp_path):
    from sqltrack.testing import StoreSupplier

    backend = "postgresql" if store_url.startswith("postgresql") else "mariadb"
    Client(store_url, artifact_root=tmp_path / "a").close()
    with StoreSupplier(backend, tmp_dir=tmp_path) as other:
        _migrate_to(other.url, "head")
        assert _shape(other.url) == _shape(store_url)


def test_indexes_fit_the_server_key_limits(store_url, tmp_path):
    Client(store_url, artifact_root=tmp_path / "a").close()
    indexes = dict(_index_rows(store_url))
    if store_url.startswith("postgresql"):
        assert '(key_id, "left"(value, 256) COLLATE "C")' in indexes["ix_params_key_value_prefix"]
        assert "ix_params_key_value" not in indexes
        assert "start_time DESC NULLS LAST" in dict(_index_rows(store_url, "runs"))["ix_runs_experiment_order"]
    else:
        assert indexes["ix_params_key_value"] == "value(255)"


def _index_rows(url: str, table: str = "params"):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                yield from conn.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                             "WHERE schemaname = current_schema() AND tablename = :t"),
                                        {"t": table}).all()
            else:
                for name, column, part in conn.execute(text(
                        "SELECT index_name, column_name, sub_part FROM information_schema.statistics "
                        "WHERE table_schema = DATABASE() AND table_name = 'params' AND column_name = 'value'")):
                    yield name, f"{column}({part})"
    finally:
        engine.dispose()


# -- concurrent first-time creation -----------------------------------------------------------

CREATORS = 8


def _open_at_once(url: str, root: str, barrier, errors) -> None:
    try:
        barrier.wait(timeout=60)
        client = Client(url, artifact_root=root)
        client.log_param(client.create_run("0").info.run_id, "who", "me", synchronous=True)
        client.close()
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        errors.put(f"{type(error).__name__}: {error}")


def test_concurrent_first_creation_is_safe(store_url, tmp_path):
    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(CREATORS), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(store_url, str(tmp_path / "a"), barrier, errors))
             for _ in range(CREATORS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == [] and [p.exitcode for p in procs] == [0] * CREATORS
    client = Client(store_url, artifact_root=tmp_path / "a")
    count = lambda table: client.store.read(  # noqa: E731
        lambda c: c.execute(select(func.count()).select_from(table)).scalar())
    assert count(schema.experiments) == 1 and count(schema.runs) == CREATORS
    names = client.store.read(lambda c: c.execute(select(schema.key_names.c.name)).scalars().all())
    assert len(names) == len(set(names)) and "who" in names
    assert client.store.read(lambda c: c.execute(text("SELECT count(*) FROM alembic_version")).scalar()) == 1
    client.close()
