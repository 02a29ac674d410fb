"""Engines for servers: pool sizing from the environment, isolation level, the schema lock, float columns."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from sqltrack import Client
from sqltrack.config import PoolSettings, pool_settings
from sqltrack.errors import InvalidParameter
from sqltrack.store.engine import make_engine
from sqltrack.store.schema import latest_metrics, metrics


def test_pool_settings_default_and_from_the_environment(monkeypatch):
    for name in ("SQLTRACK_POOL_SIZE", "SQLTRACK_MAX_OVERFLOW", "SQLTRACK_POOL_RECYCLE", "SQLTRACK_POOL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert pool_settings() == PoolSettings(size=2, max_overflow=3, recycle=1800, timeout=30.0)
    monkeypatch.setenv("SQLTRACK_POOL_SIZE", "4")
    monkeypatch.setenv("SQLTRACK_MAX_OVERFLOW", "0")
    monkeypatch.setenv("SQLTRACK_POOL_RECYCLE", "600")
    monkeypatch.setenv("SQLTRACK_POOL_TIMEOUT", "2.5")
    assert pool_settings() == PoolSettings(size=4, max_overflow=0, recycle=600, timeout=2.5)
    monkeypatch.setenv("SQLTRACK_POOL_SIZE", "zero")
    with pytest.raises(InvalidParameter, match="SQLTRACK_POOL_SIZE='zero' is not valid"):
        pool_settings()
    monkeypatch.setenv("SQLTRACK_POOL_SIZE", "0")
    with pytest.raises(InvalidParameter, match="an integer >= 1"):
        pool_settings()


@pytest.mark.parametrize("setting, kib", [(None, 64 * 1024), ("8", 8 * 1024), ("0", 0)])
def test_sqlite_connections_get_the_page_cache_setting(tmp_path, monkeypatch, setting, kib):
    """SQLite's own 2 MiB cache makes repeated searches of a large store read it from the OS again."""
    monkeypatch.delenv("SQLTRACK_SQLITE_CACHE_MB", raising=False)
    if setting is not None:
        monkeypatch.setenv("SQLTRACK_SQLITE_CACHE_MB", setting)
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -kib
    finally:
        engine.dispose()


def test_a_bad_page_cache_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SQLTRACK_SQLITE_CACHE_MB", "lots")
    with pytest.raises(InvalidParameter, match="SQLTRACK_SQLITE_CACHE_MB='lots' is not valid"):
        make_engine(f"sqlite:///{tmp_path / 'cache.db'}")


@pytest.mark.servers_only
def test_server_engines_use_the_pool_settings(store_url, monkeypatch):
    monkeypatch.setenv("SQLTRACK_POOL_SIZE", "3")
    monkeypatch.setenv("SQLTRACK_MAX_OVERFLOW", "1")
    monkeypatch.setenv("SQLTRACK_POOL_RECYCLE", "900")
    engine = make_engine(store_url)
    try:
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._recycle) == (3, 1, 900)
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            assert conn.get_isolation_level() == "READ COMMITTED"  # PostgreSQL's default; set on MySQL
    finally:
        engine.dispose()


@pytest.mark.servers_only
def test_the_schema_lock_is_released_after_creation(store_url, tmp_path):
    client = Client(store_url, artifact_root=tmp_path / "a")
    with client.store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            held = conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7301245 "
                                     "AND objid = hashtext(current_schema())::oid")).scalar()
            assert held == 0
        else:
            free = conn.execute(text(
                "SELECT IS_FREE_LOCK(CONCAT('sqltrack_schema:', MD5(COALESCE(DATABASE(), ''))))")).scalar()
            assert free == 1
    client.close()


def test_float_columns_read_back_as_exact_floats(client):
    values = [5e-324, 0.1 + 0.2, 1e-300, 123456789.123456789, -2.5e-310]
    run_id = client.create_run("0").info.run_id
    from sqltrack import Metric

    client.log_batch(run_id, metrics=[Metric("m", v, 1, s) for s, v in enumerate(values)])
    stored = client.store.read(lambda c: c.execute(select(metrics.c.value).order_by(metrics.c.step)).scalars().all())
    assert stored == values and all(type(v) is float for v in stored)
    low = client.store.read(lambda c: c.execute(select(latest_metrics.c.min_value)).scalar())
    assert low == -2.5e-310 and type(low) is float
