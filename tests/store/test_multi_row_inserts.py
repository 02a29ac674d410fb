"""SQLite writes send many rows per INSERT statement (sqlite_path.insert_rows), with executemany's results."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from sqltrack import Metric
from sqltrack.store import sqlite_path as SQ
from sqltrack.store.schema import metadata

TABLES = {SQ.INSERT_POINTS: "metrics", SQ.UPSERT_TAGS: "tags", SQ.INSERT_PARAMS: "params"}


def _database() -> sqlite3.Connection:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    db = engine.raw_connection().driver_connection
    db.isolation_level = None
    return db


def _rows(sql: str, keys: list[int]) -> list[tuple]:
    """Rows for ``sql`` whose primary keys repeat where ``keys`` does (so that OR IGNORE and upserts act)."""
    if sql == SQ.INSERT_POINTS:
        return [(1, 1, k, 10, 0.5, 0) for k in keys]
    if sql == SQ.UPSERT_TAGS:
        return [(1, k, f"v{i}") for i, k in enumerate(keys)]
    return [(1, k, f"v{i}", float(i)) for i, k in enumerate(keys)]


@settings(max_examples=60, deadline=None)
@given(sql=st.sampled_from(sorted(TABLES)), keys=st.lists(st.integers(0, 400), max_size=700))
def test_multi_row_statements_store_and_count_what_executemany_does(sql, keys):
    rows = _rows(sql, keys)
    one_by_one, many = _database(), _database()
    expected = one_by_one.executemany(sql, rows).rowcount if rows else 0
    assert SQ.insert_rows(many, sql, rows) == expected
    table = TABLES[sql]
    assert many.execute(f"SELECT * FROM {table}").fetchall() == one_by_one.execute(f"SELECT * FROM {table}").fetchall()


@pytest.mark.parametrize("count", [1, 2, 127, 128, 129, 500, 1000])
def test_every_row_goes_in_order_in_few_statements(count):
    db = _database()
    sent: list[str] = []
    db.set_trace_callback(sent.append)
    rows = [(1, 1, step, 10, float(step), 0) for step in range(count)]
    assert SQ.insert_rows(db, SQ.INSERT_POINTS, rows) == count
    db.set_trace_callback(None)
    stored = db.execute("SELECT step, value FROM metrics ORDER BY step").fetchall()
    assert stored == [(s, float(s)) for s in range(count)]
    # statements of 128, 64 and 32 rows while that many are left, then one execution per row left
    rest = count % SQ.MAX_ROWS_PER_INSERT
    assert len(sent) == count // SQ.MAX_ROWS_PER_INSERT + (rest >= 64) + (rest % 64 >= 32) + rest % 32


def test_upserts_and_statements_without_a_values_group_go_row_by_row():
    db = _database()
    db.executemany(SQ.INSERT_PARAMS, [(1, k, "a", None) for k in range(3)])
    assert SQ.insert_rows(db, "UPDATE params SET value = ? WHERE key_id = ?", [("b", 0), ("c", 2)]) == 2
    assert [v for (v,) in db.execute("SELECT value FROM params ORDER BY key_id")] == ["b", "a", "c"]
    sent: list[str] = []
    db.set_trace_callback(sent.append)
    assert SQ.insert_rows(db, SQ.UPSERT_TAGS, [(1, k % 50, str(k)) for k in range(100)]) == 100
    db.set_trace_callback(None)
    assert len(sent) == 100 and db.execute("SELECT value FROM tags WHERE key_id = 7").fetchone() == ("57",)
    assert SQ._row_cap(1000) == 0 and SQ._row_cap(16) == 32 and SQ._row_cap(6) == SQ.MAX_ROWS_PER_INSERT


@pytest.mark.sqlite_only
def test_a_batch_of_500_points_is_written_in_a_handful_of_statements(client):
    """executemany ran the metrics INSERT once per point: 500 steps of SQLite's VM, each holding the write lock."""
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("warm", 1.0, 1, 0)])  # interns the run id and the first key
    sent: list[str] = []
    with client.store.engine.connect() as conn:  # the pool's one idle connection is the writer's next
        driver = conn.connection.driver_connection
    driver.set_trace_callback(sent.append)
    try:
        client.log_batch(run_id, metrics=[Metric(f"m{i % 10}", i / 7, 1_000 + i, i // 10) for i in range(500)])
    finally:
        driver.set_trace_callback(None)
    inserts = [sql for sql in sent if sql.startswith("INSERT OR IGNORE INTO metrics")]
    assert 1 <= len(inserts) <= 3 + 2 + 31, len(inserts)
    history = client.get_metric_history(run_id, "m3")
    assert [(m.step, m.timestamp, m.value) for m in history] == [(i // 10, 1_000 + i, i / 7) for i in range(3, 500, 10)]
