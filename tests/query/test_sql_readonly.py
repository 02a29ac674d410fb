"""``sqltrack.sql``: read-only SQL on the documented views; the database itself refuses writes.

SQLite always; PostgreSQL and MariaDB/MySQL where a server answers (``SQLTRACK_TEST_PG_URL`` /
``SQLTRACK_TEST_MYSQL_URL``, defaulting to the servers ``.ci/services.sh`` starts), else skipped.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
import uuid
from pathlib import Path

import pytest

import sqltrack
from sqltrack import Client
from sqltrack.errors import InvalidParameter, StoreError, StoreReadOnly
from sqltrack.query.sql import VIEW_NAMES, connect_read_only, run_query, sql

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
#: Every :name the examples in docs/sql.md use, with values that select something.
DOC_PARAMS = {"experiment": "sweep", "metric": "loss", "threshold": 0.5, "status": "FAILED"}


def fill(client: Client) -> dict[str, str]:
    """Two experiments, five runs: metrics with NaN/inf and history, params, tags, an artifact."""
    sweep = client.create_experiment("sweep")
    other = client.create_experiment("other")
    ids = {}
    plan = [("a", sweep, [1.0, 0.5, 0.25], "0.01", "FINISHED"), ("b", sweep, [2.0, math.nan], "0.1", "FAILED"),
            ("c", sweep, [0.75, math.inf], "10", "FINISHED"), ("d", other, [0.3], "0.001", "FINISHED"),
            ("e", sweep, [], "9", "RUNNING")]
    for index, (name, experiment, losses, lr, status) in enumerate(plan):
        run = client.create_run(experiment, start_time=1000 * (index + 1), run_name=name,
                                tags={"mlflow.user": "alice" if index % 2 else "bob"})
        run_id = ids[name] = run.info.run_id
        for step, value in enumerate(losses):
            client.log_metric(run_id, "loss", value, timestamp=10 + step, step=step)
        client.log_param(run_id, "lr", lr)
        client.log_param(run_id, "batch_size", str(32 * (index + 1)))
        if name != "c":
            client.set_tag(run_id, "reviewed", "yes")
        if name == "a":
            client.log_text(run_id, "hello", "notes/readme.txt")
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=1000 * (index + 1) + 500)
    client.flush()
    return ids


@pytest.fixture
def store(store_path):
    client = Client(store_path)
    ids = fill(client)
    client.close()
    return store_path, ids


def fingerprint(path: Path) -> tuple:
    """The database and its WAL, byte for byte. (Opening a WAL database may create an empty -wal
    and touches the -shm index; neither holds data.)"""
    files = [path, path.with_name(path.name + "-wal")]
    return tuple((p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files
                 if p.exists() and p.stat().st_size)


# ---- reading --------------------------------------------------------------------------------

def test_views_read_as_dataframes_in_query_order(store):
    path, ids = store
    frame = sql("SELECT run_name, status, start_time, duration_ms FROM runs_view ORDER BY start_time DESC",
                tracking_uri=path)
    assert list(frame.columns) == ["run_name", "status", "start_time", "duration_ms"]
    assert list(frame["run_name"]) == ["e", "d", "c", "b", "a"]
    assert frame.loc[frame.run_name == "a", "duration_ms"].item() == 500
    latest = sql("SELECT r.run_name, m.value, m.is_nan, m.min_value, m.max_value, m.first_value, m.count "
                 "FROM latest_metrics_view m JOIN runs_view r USING (run_id) ORDER BY r.run_name", tracking_uri=path)
    rows = {row.run_name: row for row in latest.itertuples()}
    assert rows["a"].value == 0.25 and rows["a"].min_value == 0.25 and rows["a"].first_value == 1.0
    assert rows["a"].count == 3
    assert math.isnan(rows["b"].value) and rows["b"].is_nan == 1 and rows["b"].max_value == 2.0
    assert rows["c"].value == math.inf


def test_named_and_positional_params_are_bound(store):
    path, ids = store
    named = sql("SELECT run_id FROM runs_view WHERE run_name = :name AND start_time >= :t", {"name": "b", "t": 0},
                tracking_uri=path)
    assert list(named["run_id"]) == [ids["b"]]
    positional = sql("SELECT run_id FROM runs_view WHERE run_name = ?", ["c"], tracking_uri=path)
    assert list(positional["run_id"]) == [ids["c"]]
    # a value is data, never SQL
    assert sql("SELECT run_id FROM runs_view WHERE run_name = :n", {"n": "x' OR '1'='1"}, tracking_uri=path).empty


def test_duplicate_column_names_and_empty_results_keep_their_columns(store):
    path, _ = store
    frame = sql("SELECT r.run_id, p.run_id, p.key FROM runs_view r JOIN params_view p ON p.run_id = r.run_id "
                "WHERE 1 = 0", tracking_uri=path)
    assert list(frame.columns) == ["run_id", "run_id", "key"] and frame.empty


def test_default_store_is_the_fluent_one(fluent, store_path):
    fill(fluent.get_client())
    assert list(sqltrack.sql("SELECT COUNT(*) AS n FROM runs_view")["n"]) == [5]


def test_introspection_cte_window_and_json_functions_are_allowed(store):
    path, _ = store
    columns = sql("PRAGMA table_info(runs_view)", tracking_uri=path)
    assert "duration_ms" in set(columns["name"])
    assert len(sql("SELECT name FROM pragma_table_info('params_view')", tracking_uri=path)) == 4
    assert list(sql("SELECT value FROM json_each('[1, 2]')", tracking_uri=path)["value"]) == [1, 2]
    counted = sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4) "
                  "SELECT i, SUM(i) OVER (ORDER BY i) AS total FROM n", tracking_uri=path)
    assert list(counted["total"]) == [1, 3, 6, 10]
    assert list(sql("PRAGMA query_only", tracking_uri=path).iloc[0]) == [1]
    plan = sql("EXPLAIN QUERY PLAN SELECT * FROM runs_view", tracking_uri=path)
    assert not plan.empty


def test_views_have_the_documented_columns(store):
    path, _ = store
    documented = _documented_columns()
    assert set(documented) == set(VIEW_NAMES)
    for view, columns in documented.items():
        assert list(sql(f"SELECT * FROM {view} WHERE 1 = 0", tracking_uri=path).columns) == columns, view


def _documented_columns() -> dict[str, list[str]]:
    """The column tables under each '### `view`' heading of docs/sql.md."""
    out: dict[str, list[str]] = {}
    view = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"### `(\w+)`", line)
        if heading:
            view = heading.group(1)
            out[view] = []
        elif line.startswith("## "):
            view = None
        elif view and line.startswith("| `"):
            out[view].extend(re.findall(r"`(\w+)`", line.split("|")[1]))
    return out


def _doc_examples() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("query", _doc_examples(), ids=lambda q: q.split("\n")[0][:50])
def test_every_example_in_the_docs_runs(store, query):
    path, ids = store
    frame = sql(query, {**DOC_PARAMS, "run_id": ids["a"]}, tracking_uri=path)
    assert len(frame.columns) > 0 and not frame.empty, query


def test_best_run_per_experiment_example(store):
    path, _ = store
    best = next(q for q in _doc_examples() if "ROW_NUMBER" in q)
    frame = sql(best, DOC_PARAMS, tracking_uri=path)
    assert frame.to_dict("records") == [{"experiment": "other", "run_name": "d", "value": 0.3},
                                        {"experiment": "sweep", "run_name": "a", "value": 0.25}]


# ---- refusing -------------------------------------------------------------------------------

REFUSED = [
    "DELETE FROM runs", "UPDATE runs SET name = 'x'", "INSERT INTO key_names (name) VALUES ('x')",
    "REPLACE INTO key_names (id, name) VALUES (1, 'x')", "INSERT INTO key_names (name) VALUES ('x') RETURNING id",
    "WITH doomed AS (SELECT 1) DELETE FROM runs", "DROP VIEW runs_view", "CREATE TABLE t (a)",
    "CREATE TEMP TABLE t (a)", "CREATE TEMP VIEW v AS SELECT 1", "ALTER TABLE runs ADD COLUMN x",
    "CREATE INDEX ix ON runs (name)", "DROP INDEX ix_runs_experiment_start",
    "ATTACH DATABASE '{dir}/other.db' AS other", "DETACH DATABASE main",
    "PRAGMA query_only = 0", "PRAGMA journal_mode = DELETE", "PRAGMA writable_schema = 1",
    "PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA user_version = 7", "PRAGMA foreign_keys = OFF",
    "SELECT load_extension('/nonexistent/ext')", "UPDATE sqlite_master SET sql = ''",
    "VACUUM", "VACUUM INTO '{dir}/copy.db'", "ANALYZE", "REINDEX", "BEGIN", "SAVEPOINT s",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_writes_attach_settings_and_extensions_are_refused(store, statement):
    path, _ = store
    before = fingerprint(path)
    with pytest.raises(StoreReadOnly) as caught:
        sql(statement.format(dir=path.parent), tracking_uri=path)
    message = str(caught.value)
    assert "\n" not in message and "read-only" in message and "runs_view" in message
    assert fingerprint(path) == before
    assert sorted(p.name for p in path.parent.iterdir() if p.suffix == ".db") == [path.name]


def test_the_refusal_comes_from_sqlite_itself(store):
    path, _ = store
    conn = connect_read_only(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
            conn.execute("DELETE FROM runs")
        # every layer holds on its own: without the authorizer, query_only and mode=ro still refuse
        conn.set_authorizer(None)
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
            conn.execute("DELETE FROM runs")
        conn.execute("PRAGMA query_only = 0")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM runs")
        with pytest.raises(sqlite3.OperationalError, match="too many attached"):
            conn.execute(f"ATTACH DATABASE '{path.parent / 'x.db'}' AS x")
    finally:
        conn.close()
    assert len(sql("SELECT * FROM runs_view", tracking_uri=path)) == 5  # the store is intact


def test_one_statement_only(store):
    path, _ = store
    with pytest.raises(InvalidParameter, match="one statement"):
        sql("SELECT 1; DELETE FROM runs", tracking_uri=path)
    assert len(sql("SELECT * FROM runs_view", tracking_uri=path)) == 5


def test_errors_are_one_line_with_the_database_message_and_the_views(store):
    path, _ = store
    with pytest.raises(InvalidParameter) as caught:
        sql("SELECT * FROM runs_viewx", tracking_uri=path)
    message = str(caught.value)
    assert "no such table: runs_viewx" in message and "latest_metrics_view" in message and "\n" not in message
    with pytest.raises(InvalidParameter, match="syntax error"):
        sql("SELEC 1", tracking_uri=path)
    with pytest.raises(InvalidParameter):
        sql("SELECT :missing", tracking_uri=path)


def test_bad_arguments_and_missing_stores(tmp_path, store):
    path, _ = store
    with pytest.raises(InvalidParameter, match="query string"):
        sql("   ", tracking_uri=path)
    with pytest.raises(InvalidParameter, match="params must be"):
        sql("SELECT 1", "x", tracking_uri=path)
    with pytest.raises(StoreError, match="No store"):
        sql("SELECT 1", tracking_uri=tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(InvalidParameter, match="in-memory"):
        sql("SELECT 1", tracking_uri="sqlite://")


def test_reads_while_a_writer_logs(store):
    path, ids = store
    writer = Client(path)
    try:
        writer.log_metric(ids["e"], "loss", 4.0, timestamp=1, step=0, synchronous=True)
        frame = sql("SELECT value FROM latest_metrics_view WHERE run_id = :r", {"r": ids["e"]}, tracking_uri=path)
        assert list(frame["value"]) == [4.0]
    finally:
        writer.close()


# ---- PostgreSQL and MariaDB/MySQL -------------------------------------------------------------

SERVERS = {
    "postgresql": os.environ.get("SQLTRACK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    "mysql": os.environ.get("SQLTRACK_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql"),
}
CREATE = {"postgresql": "CREATE DATABASE {name}",
          "mysql": "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server_store(request):
    """(url, run ids, backend) of a filled store in a fresh database on one server."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(SERVERS[request.param])
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means skip
        pytest.skip(f"{request.param} server not reachable at {admin_url.render_as_string()}: {exc}")
    name = f"sqltrack_sql_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(CREATE[request.param].format(name=name)))
    query = {"charset": "utf8mb4"} if request.param == "mysql" else {}
    url = admin_url.set(database=name, query=query).render_as_string(hide_password=False)
    try:
        client = Client(url)
        ids = fill(client)
        client.close()
        yield url, ids, request.param
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


def _key(backend: str) -> str:
    return "`key`" if backend == "mysql" else "key"


def test_server_reads_views_in_order_with_params(server_store):
    url, ids, backend = server_store
    frame = sql("SELECT run_name, start_time FROM runs_view WHERE start_time > :t ORDER BY start_time DESC;",
                {"t": 1000}, tracking_uri=url)
    assert list(frame["run_name"]) == ["e", "d", "c", "b"]
    latest = sql(f"SELECT r.run_name, l.value, l.is_nan FROM latest_metrics_view l JOIN runs_view r "
                 f"ON r.run_id = l.run_id WHERE l.{_key(backend)} = :k AND r.run_name LIKE 'b%' ", {"k": "loss"},
                 tracking_uri=url)
    assert latest["is_nan"].tolist() == [1] and latest["value"].isna().all()
    both = sql("SELECT r.run_id, p.run_id FROM runs_view r JOIN params_view p ON p.run_id = r.run_id "
               "WHERE r.run_name = :n ORDER BY p.run_id", {"n": "a"}, tracking_uri=url)
    assert list(both.columns) == ["run_id", "run_id"] and len(both) == 2


SERVER_REFUSED = [
    "DELETE FROM runs", "UPDATE runs SET name = 'x'", "CREATE TABLE t (a INT)", "DROP VIEW runs_view",
    "SELECT 1; DELETE FROM runs", "SELECT 1) AS q; COMMIT; DELETE FROM runs; SELECT (1",
    "SET default_transaction_read_only = off", "SET SESSION sql_mode = ''", "SET GLOBAL max_connections = 1",
    "WITH doomed AS (DELETE FROM runs RETURNING 1) SELECT * FROM doomed",
    "COPY (SELECT 1) TO '/tmp/sqltrack_sql_copy'", "SELECT 1 INTO OUTFILE '/tmp/sqltrack_sql_outfile'",
    "SELECT 1 INTO @leak", "TRUNCATE runs", "GRANT ALL ON runs TO PUBLIC",
]


@pytest.mark.parametrize("statement", SERVER_REFUSED)
def test_server_refuses_everything_but_a_query(server_store, statement):
    url, ids, _backend = server_store
    with pytest.raises((InvalidParameter, StoreReadOnly)) as caught:
        sql(statement, tracking_uri=url)
    assert "\n" not in str(caught.value) and "read-only" in str(caught.value)
    assert not Path("/tmp/sqltrack_sql_copy").exists() and not Path("/tmp/sqltrack_sql_outfile").exists()
    assert len(sql("SELECT * FROM runs_view", tracking_uri=url)) == len(ids)


def test_server_write_inside_a_query_is_refused_by_the_read_only_transaction(server_store):
    url, _ids, backend = server_store
    if backend != "postgresql":
        pytest.skip("MySQL has no writing function to call from a SELECT")
    with pytest.raises(StoreReadOnly, match="read-only transaction"):
        sql("SELECT nextval(pg_get_serial_sequence('runs', 'id'))", tracking_uri=url)


def test_server_missing_param_and_positional_params(server_store):
    url, _ids, _backend = server_store
    with pytest.raises(InvalidParameter, match=":who"):
        sql("SELECT * FROM runs_view WHERE run_name = :who", tracking_uri=url)
    with pytest.raises(InvalidParameter, match="dict"):
        sql("SELECT * FROM runs_view WHERE run_name = ?", ["a"], tracking_uri=url)
    # a literal % reaches the server unchanged, with or without params
    plain = sql("SELECT run_name FROM runs_view WHERE run_name LIKE '%a'", tracking_uri=url)
    assert plain["run_name"].tolist() == ["a"]
    assert sql("SELECT run_name FROM runs_view WHERE run_name LIKE '%a' AND run_name = :n", {"n": "a"},
               tracking_uri=url)["run_name"].tolist() == ["a"]


def test_run_query_returns_driver_rows(store):
    path, ids = store
    result = run_query("SELECT run_id, start_time FROM runs_view WHERE run_name = 'a'", tracking_uri=path)
    assert result.columns == ["run_id", "start_time"] and result.rows == [(ids["a"], 1000)]
