"""Search latency on PostgreSQL (and optionally MariaDB) next to SQLite, on the same 100,000-run store.

    python bench/bench_backends.py                      # 100,000 runs, SQLite + PostgreSQL
    python bench/bench_backends.py --runs 20000 --mariadb --json out.json

The store is the one of ``tests/query/bench_search.py`` (100,000 runs x 20 params, 10 metrics,
5 tags, one experiment), generated once into a SQLite file with the driver's executemany and
then copied row for row into a PostgreSQL schema (``COPY``) and, with ``--mariadb``, a MariaDB
database, each created by sqltrack itself so that it has the real indexes of that backend.
Both are kept (``--cache``) and reused while they hold the expected number of runs.

For each search of ``bench_search.SEARCHES`` it reports the median of ``--repeat`` runs of

* **query**: the compiled search statement with ``LIMIT 101`` (what the database does), and
* **search_runs**: ``Client.search_runs(max_results=100)`` end to end (statement, paging
  snapshot, loading the 100 runs' params, tags and metrics into entities).

Servers: ``SQLTRACK_TEST_PG_URL`` / ``SQLTRACK_TEST_MYSQL_URL`` (admin URLs), as for the tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from sqltrack import Client  # noqa: E402
from sqltrack.entities import ViewType  # noqa: E402
from sqltrack.query.search import build_run_search  # noqa: E402
from sqltrack.testing import admin_url, unavailable  # noqa: E402

CACHE = REPO / "bench" / ".cache"
#: Tables copied from the generated SQLite store, in foreign-key order, with their columns.
TABLES = {
    "key_names": ("id", "name"),
    "runs": ("id", "run_uuid", "experiment_id", "name", "status", "start_time", "end_time", "lifecycle_stage"),
    "params": ("run_id", "key_id", "value", "value_num"),
    "tags": ("run_id", "key_id", "value"),
    "latest_metrics": ("run_id", "key_id", "step", "timestamp", "value", "kind", "min_value", "max_value",
                       "avg_value", "sum_value", "first_value", "first_kind", "first_step", "first_timestamp",
                       "count", "nan_count"),
}


def _bench_search():
    """tests/query/bench_search.py: the store generator and the searches."""
    spec = importlib.util.spec_from_file_location("bench_search", REPO / "tests" / "query" / "bench_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sqlite_store(bench, n_runs: int) -> str:
    """The generated SQLite store (made once), upgraded to the current schema; returns its URL."""
    path = CACHE / f"backends-{n_runs}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        bench.generate(path, n_runs)
        print(f"generated {n_runs:,} runs in {time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)
    _stamp_current(path)
    return f"sqlite:///{path}"


def _stamp_current(path: Path) -> None:
    """The generator writes bare tables; let sqltrack see a store of its current revision."""
    from sqltrack.store import schema
    from sqltrack.store.views import create_views

    db = sqlite3.connect(path)
    try:
        if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0]:
            return
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES (?)", (schema.SCHEMA_REVISION,))
        db.execute("INSERT OR IGNORE INTO experiments (experiment_id, name, lifecycle_stage) "
                   "VALUES (0, 'Default', 'active')")
        db.commit()
    finally:
        db.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        create_views(conn)
    engine.dispose()


def server_store(backend: str, sqlite_url: str, n_runs: int) -> str:
    """A schema (PostgreSQL) or database (MariaDB) holding the same rows; made once, then reused."""
    name = f"sqltrack_bench_{n_runs}"
    url = _namespace_url(backend, name)
    admin = create_engine(admin_url(backend), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
        else:
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4")
    admin.dispose()
    client = Client(url, artifact_root=CACHE / "artifacts")  # creates the schema with this backend's indexes
    engine = client.store.engine
    with engine.connect() as conn:
        present = conn.execute(text("SELECT count(*) FROM runs")).scalar()
    if present != n_runs:
        started = time.perf_counter()
        _load(backend, engine, sqlite_url)
        print(f"loaded {n_runs:,} runs into {backend} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    client.close()
    return url


def _namespace_url(backend: str, name: str) -> str:
    url = make_url(admin_url(backend))
    if backend == "postgresql":
        url = url.set(query={**url.query, "options": f"-csearch_path={name}"})
    else:
        url = url.set(database=name, query={**url.query, "charset": "utf8mb4"})
    return url.render_as_string(hide_password=False)


def _load(backend: str, engine, sqlite_url: str) -> None:
    source = sqlite3.connect(make_url(sqlite_url).database)
    with engine.begin() as conn:
        for table in reversed(list(TABLES)):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql("DELETE FROM experiments WHERE experiment_id = 1")
        conn.exec_driver_sql("INSERT INTO experiments (experiment_id, name, lifecycle_stage) "
                             "VALUES (1, 'bench', 'active')")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, columns in TABLES.items():
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            if backend == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                while batch := rows.fetchmany(20_000):
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)
            raw.commit()
        if backend == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence('runs', 'id'), (SELECT max(id) FROM runs))")
            cursor.execute("SELECT setval(pg_get_serial_sequence('key_names', 'id'), (SELECT max(id) FROM key_names))")
            raw.commit()
            raw.driver_connection.autocommit = True  # VACUUM: index-only scans need the visibility map
            raw.driver_connection.execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = False
        else:
            for table in TABLES:
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()
            raw.commit()
    finally:
        raw.close()
        source.close()


def _median_ms(call, repeat: int) -> float:
    call()  # warm caches and the statement cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, searches, repeat: int) -> dict[str, tuple[float, float, int]]:
    """label -> (query ms, search_runs ms, rows) for each search."""
    client = Client(url, artifact_root=CACHE / "artifacts", read_only=url.startswith("sqlite"))
    engine, dialect = client.store.engine, client.store.dialect_name
    results = {}
    with engine.connect() as conn:
        for label, filter_string, order_by in searches:
            query = build_run_search(filter_string, order_by, [1], ViewType.ACTIVE_ONLY, dialect).limit(101)
            rows = len(conn.execute(query).all())
            query_ms = _median_ms(lambda q=query: conn.execute(q).all(), repeat)
            api_ms = _median_ms(lambda f=filter_string or "", o=order_by: client.search_runs(
                ["1"], f, max_results=100, order_by=o), repeat)
            results[label] = (query_ms, api_ms, rows)
    client.close()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--mariadb", action="store_true", help="also measure MariaDB")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    args = parser.parse_args(argv)
    bench = _bench_search()
    stores = {"sqlite": sqlite_store(bench, args.runs)}
    for backend in ("postgresql", "mariadb") if args.mariadb else ("postgresql",):
        reason = unavailable(backend)
        if reason:
            print(f"skipping {backend}: {reason}", file=sys.stderr)
            continue
        stores[backend] = server_store(backend, stores["sqlite"], args.runs)
    results = {backend: measure(url, bench.SEARCHES, args.repeat) for backend, url in stores.items()}
    _print_table(results, bench.SEARCHES, args.runs)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "repeat": args.repeat, "results": {
            backend: {label: {"query_ms": q, "search_runs_ms": a, "rows": n} for label, (q, a, n) in found.items()}
            for backend, found in results.items()}}, indent=2))


def _print_table(results: dict, searches, n_runs: int) -> None:
    backends = list(results)
    print(f"\nSearch latency, median ms, {n_runs:,} runs (query = the statement with LIMIT 101; "
          "api = Client.search_runs(max_results=100))\n")
    header = "| search | rows | " + " | ".join(f"{b} query | {b} api" for b in backends) + " |"
    print(header)
    print("|" + "---|" * (2 + 2 * len(backends)))
    for label, _filter, _order in searches:
        rows = results[backends[0]][label][2]
        cells = " | ".join(f"{results[b][label][0]:.1f} | {results[b][label][1]:.1f}" for b in backends)
        print(f"| {label} | {rows} | {cells} |")
    for backend in backends[1:]:
        differing = [label for label, *_ in searches if results[backend][label][2] != results[backends[0]][label][2]]
        if differing:
            print(f"\nWARNING: {backend} found a different number of rows for: {', '.join(differing)}")


if __name__ == "__main__":
    main()
