"""W1 (per-call logging), W2 (log_batch), W7 (bytes per point) and W9 (8 concurrent processes).

sqltrack and raw sqlite3 run in this process (interleaved repetition by repetition, so
machine noise hits both alike); MLflow runs in its own interpreter (``mlflow_side.py``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import common
from .common import PER_RUN, Case, Sample

RAW_SCHEMA = [
    "CREATE TABLE m(run INTEGER, key INTEGER, step INTEGER, ts INTEGER, value REAL,"
    " PRIMARY KEY(run, key, step, ts)) WITHOUT ROWID",
    "CREATE TABLE kv(run INTEGER, key INTEGER, value TEXT, PRIMARY KEY(run, key)) WITHOUT ROWID",
]


# ----- sqltrack ---------------------------------------------------------------------------------
def sqltrack_per_call(folder: Path, runs: int) -> float:
    """W1 with the fluent API (``import sqltrack as mlflow``): points/s, every value written at end_run."""
    import sqltrack as mlflow

    mlflow.set_tracking_uri(str(folder / "w1.db"))
    mlflow.set_experiment("bench")
    data = [common.run_values(r) for r in range(runs)]
    started = time.perf_counter()
    for params, tags, metrics in data:
        with mlflow.start_run():
            for key, value in params:
                mlflow.log_param(key, value)
            for key, value in tags:
                mlflow.set_tag(key, value)
            for key, value, timestamp, step in metrics:
                mlflow.log_metric(key, value, step=step, timestamp=timestamp)
    elapsed = time.perf_counter() - started
    mlflow.set_tracking_uri(None)
    return runs * PER_RUN / elapsed


def sqltrack_batch(folder: Path, runs: int) -> tuple[float, float, float]:
    """W2 with the client: (points/s of the whole run lifecycle, points/s inside log_batch, bytes/point)."""
    from sqltrack import Client, Metric, Param, RunTag

    path = folder / "w2.db"
    client = Client(path)
    eid = client.create_experiment("bench")
    client.close()
    common.checkpoint(path)
    empty = path.stat().st_size
    client = Client(path)
    data = []
    for r in range(runs):
        params, tags, metrics = common.run_values(r)
        data.append(([Metric(k, v, t, s) for k, v, t, s in metrics], [Param(k, v) for k, v in params],
                     [RunTag(k, v) for k, v in tags]))
    in_batch = 0.0
    started = time.perf_counter()
    for metrics, params, tags in data:
        run_id = client.create_run(eid).info.run_id
        t0 = time.perf_counter()
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        in_batch += time.perf_counter() - t0
        client.set_terminated(run_id)
    elapsed = time.perf_counter() - started
    client.close()
    common.checkpoint(path)
    points = runs * common.METRICS * common.STEPS
    size = (path.stat().st_size - empty) / points
    return runs * PER_RUN / elapsed, runs * PER_RUN / in_batch, size, table_bytes(path, "metrics") / points


def table_bytes(path: Path, table: str) -> float:
    """Bytes of one table's pages (SQLite's dbstat), or NaN when this SQLite lacks dbstat."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (table,)).fetchone()[0]
    except sqlite3.Error:
        return float("nan")
    finally:
        conn.close()


# ----- raw sqlite3 -------------------------------------------------------------------------------
def _raw_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in RAW_SCHEMA:
        conn.execute(statement)
    return conn


def _raw_rows(run: int) -> tuple[list[tuple], list[tuple]]:
    params, tags, metrics = common.run_values(run)
    keys = {k: i for i, k in enumerate([k for k, _ in params] + [k for k, _ in tags] +
                                       [f"m{m}" for m in range(common.METRICS)])}
    points = [(run, keys[k], s, t, v) for k, v, t, s in metrics]
    texts = [(run, keys[k], v) for k, v in params + tags]
    return points, texts


def raw_executemany(folder: Path, runs: int) -> tuple[float, float]:
    """One transaction per run: executemany of its 500 points and 20 params/tags. (points/s, bytes/point)."""
    path = folder / "raw.db"
    conn = _raw_db(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    empty = path.stat().st_size
    data = [_raw_rows(r) for r in range(runs)]
    started = time.perf_counter()
    for points, texts in data:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO kv VALUES (?, ?, ?)", texts)
        conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", points)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    points = runs * common.METRICS * common.STEPS
    return runs * PER_RUN / elapsed, (path.stat().st_size - empty) / points, table_bytes(path, "m") / points


def raw_autocommit(folder: Path, runs: int) -> float:
    """One autocommit INSERT per value: what a durable-at-every-call logger costs."""
    conn = _raw_db(folder / "raw1.db")
    data = [_raw_rows(r) for r in range(runs)]
    started = time.perf_counter()
    for points, texts in data:
        for row in texts:
            conn.execute("INSERT INTO kv VALUES (?, ?, ?)", row)
        for row in points:
            conn.execute("INSERT INTO m VALUES (?, ?, ?, ?, ?)", row)
    elapsed = time.perf_counter() - started
    conn.close()
    return runs * PER_RUN / elapsed


def schema_rows(run: int, rid: int, kid: dict[str, int]) -> tuple[list, list, list, list]:
    """Run ``run``'s rows as sqltrack stores them: params, tags, metrics (key order) and latest_metrics."""
    from sqltrack.store.bulk import latest_row

    params, tags, metrics = common.run_values(run)
    p_rows = [(rid, kid[k], v, float(v)) for k, v in params]
    t_rows = [(rid, kid[k], v) for k, v in tags]
    m_rows = sorted((rid, kid[k], s, t, v, 0) for k, v, t, s in metrics)
    latest = [latest_row(rid, kid[f"m{m}"], [r[2:] for r in m_rows if r[1] == kid[f"m{m}"]], True)
              for m in range(common.METRICS)]
    return p_rows, t_rows, m_rows, latest


def schema_key_names(conn: sqlite3.Connection, extra: tuple[str, ...] = ()) -> dict[str, int]:
    """Intern W1's key names (and ``extra``) into a sqltrack store, as its first run would: {name: id}."""
    params, tags, _ = common.run_values(0)
    names = [k for k, _ in params + tags] + [f"m{m}" for m in range(common.METRICS)] + list(extra)
    conn.executemany("INSERT OR IGNORE INTO key_names (name) VALUES (?)", [(n,) for n in names])
    return dict(conn.execute("SELECT name, id FROM key_names"))


def raw_sqltrack_schema(folder: Path, runs: int) -> float:
    """W2's batches written by raw sqlite3 into sqltrack's own schema, rows computed in advance: points/s.

    The floor of what ``log_batch`` can reach with our schema (six-column metrics key,
    latest_metrics and its search indexes, params/tags value indexes): one transaction per run
    with the statements ``store/batch.py`` issues, none of the Python that makes the rows.
    The store is ``folder / "w2-raw-schema.db"``.
    """
    from sqltrack import Client
    from sqltrack.store import sqlite_path as SQ

    path = folder / "w2-raw-schema.db"
    client = Client(path)
    eid = client.create_experiment("bench")
    run_ids = [client.create_run(eid).info.run_id for _ in range(runs)]
    client.close()
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA synchronous=NORMAL")
    kid = schema_key_names(conn)
    rid = dict(conn.execute("SELECT run_uuid, id FROM runs"))
    data = [(u, schema_rows(r, rid[u], kid)) for r, u in enumerate(run_ids)]
    started = time.perf_counter()
    for uuid, (p_rows, t_rows, m_rows, latest) in data:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(SQ.TOUCH_RUN, (common.BASE_TIME, m_rows[0][0], uuid))
        SQ.insert_rows(conn, SQ.INSERT_PARAMS, p_rows)
        SQ.insert_rows(conn, SQ.UPSERT_TAGS, t_rows)
        SQ.insert_rows(conn, SQ.INSERT_POINTS, m_rows)
        conn.execute("SELECT key_id FROM latest_metrics WHERE run_id = ?", (m_rows[0][0],)).fetchall()
        SQ.insert_rows(conn, SQ.UPSERT_LATEST, latest)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return runs * PER_RUN / elapsed


# ----- the workloads -------------------------------------------------------------------------------
def run_w1_w2_w7(cfg, mlflow_run) -> list[Case]:
    reps, runs = cfg.reps, cfg.log_runs
    per_call, batch_whole, batch_only, sizes, table_sizes = [], [], [], [], []
    raw_many, raw_one, raw_sizes, raw_table, raw_schema = [], [], [], [], []
    for rep in range(reps + 1):  # repetition 0 warms up (imports, caches) and is not kept
        with tempfile.TemporaryDirectory(dir=cfg.tmp) as folder:
            f = Path(folder)
            a = sqltrack_per_call(f, runs)
            b = sqltrack_batch(f, runs)
            c = raw_executemany(f, runs)
            d = raw_autocommit(f, runs)
            e = raw_sqltrack_schema(f, runs)
        if rep:
            per_call.append(a)
            batch_whole.append(b[0]), batch_only.append(b[1]), sizes.append(b[2]), table_sizes.append(b[3])
            raw_many.append(c[0]), raw_sizes.append(c[1]), raw_one.append(d), raw_table.append(c[2])
            raw_schema.append(e)
    size = f"{runs} runs x {PER_RUN} values"
    ml_w1 = ml_w2 = None
    if mlflow_run:
        with tempfile.TemporaryDirectory(dir=cfg.tmp) as folder:
            m1 = mlflow_run("w1", {"folder": folder, "runs": cfg.mlflow_w1_runs, "reps": reps})
            m2 = mlflow_run("w2", {"folder": folder, "runs": cfg.mlflow_w2_runs, "reps": reps})
        ml_w1 = Sample(m1["rates"], "points/s", f"{cfg.mlflow_w1_runs} runs x {PER_RUN} values")
        ml_w2 = m2
    cases = [
        Case("W1", "per-call log_param/set_tag/log_metric (fluent)", Sample(per_call, "points/s", size),
             ml_w1, Sample(raw_many, "points/s", size, "executemany, one transaction per run"),
             target=">= 100,000 points/s"),
        Case("W1", "same, vs raw one autocommit INSERT per value", Sample(per_call, "points/s", size), None,
             Sample(raw_one, "points/s", size, "autocommit INSERT per value (durable per call)")),
        Case("W2", "create_run + log_batch + set_terminated, per run", Sample(batch_whole, "points/s", size),
             Sample(ml_w2["rates"], "points/s", f"{cfg.mlflow_w2_runs} runs x {PER_RUN} values") if ml_w2 else None,
             Sample(raw_many, "points/s", size, "executemany, one transaction per run"),
             target=">= 500,000 points/s and >= 50% of raw"),
        Case("W2", "inside log_batch calls only", Sample(batch_only, "points/s", size),
             Sample(ml_w2["batch_rates"], "points/s", f"{cfg.mlflow_w2_runs} runs") if ml_w2 else None,
             Sample(raw_many, "points/s", size, "executemany, one transaction per run"),
             target=">= 500,000 points/s and >= 50% of raw"),
        Case("W2", "inside log_batch, vs raw sqlite3 writing the same rows into sqltrack's schema",
             Sample(batch_only, "points/s", size), None,
             Sample(raw_schema, "points/s", size, "sqltrack's tables and statements, rows made in advance")),
        Case("W7", "bytes on disk per metric point (W2 data, checkpointed, minus the empty store)",
             Sample(sizes, "bytes/point", size),
             Sample(ml_w2["bytes_per_point"], "bytes/point", f"{cfg.mlflow_w2_runs} runs") if ml_w2 else None,
             Sample(raw_sizes, "bytes/point", size, "minimal WITHOUT ROWID tables"), target="<= 32 bytes"),
        Case("W7", "bytes per metric point in the metrics table alone (dbstat)",
             Sample(table_sizes, "bytes/point", size), None,
             Sample(raw_table, "bytes/point", size, "minimal table m"), target="<= 32 bytes"),
    ]
    _judge_rate(cases[0], 100_000)
    _judge_rate(cases[2], 500_000, 0.5)
    _judge_rate(cases[3], 500_000, 0.5)
    cases[5].met = cases[5].sqltrack.median <= 32
    cases[6].met = cases[6].sqltrack.median <= 32
    cases[5].notes.append("the file also holds params, tags, runs and latest_metrics; divided by metric points")
    return cases


def _judge_rate(case: Case, floor: float, of_raw: float | None = None) -> None:
    ok = case.sqltrack.median >= floor
    if of_raw is not None and case.raw is not None:
        ok = ok and case.sqltrack.median >= of_raw * case.raw.median
    case.met = ok


# ----- W9: concurrent processes --------------------------------------------------------------------
def _concurrent(cfg, kind: str, path: Path, eid: str | None, runs: int, procs: int,
                python: str = sys.executable) -> tuple[float, int]:
    """Start ``procs`` loggers of W1's shape (runs split between them) at one instant; (points/s, errors).

    Each worker imports and opens the store, says "ready" and waits for a go file; the clock
    starts when the go file is written and stops when the last worker has finished.
    """
    go = path.with_name(path.name + ".go")
    argv_of = []
    for i in range(procs):
        args = {"path": str(path), "experiment_id": eid, "runs": list(range(i, runs, procs)), "go": str(go)}
        if kind == "mlflow":
            from . import mlflow_env

            argv_of.append([python, str(mlflow_env.SIDE_SCRIPT), "w9_worker", json.dumps(args)])
        else:
            argv_of.append([python, "-m", "bench.workers", kind, json.dumps(args)])
    workers = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=common.REPO_DIR) for argv in argv_of]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"a W9 worker failed to start: {worker.communicate()[1][-2000:]}")
    start = time.time()
    go.write_text(str(start))
    results = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=cfg.w9_timeout)
        if worker.returncode != 0:
            results.append({"end": time.time(), "errors": 1})
            cfg.log(f"W9 worker crashed: {stderr[-1500:]}")
        else:
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    end = max(r["end"] for r in results)
    return runs * PER_RUN / (end - start), sum(r["errors"] for r in results)


def run_w9(cfg, mlflow_python: str | None) -> list[Case]:
    from sqltrack import Client

    rates, errors, raw_rates, schema_rates, ml_rates, ml_errors = [], 0, [], [], [], 0
    for _ in range(cfg.reps):
        with tempfile.TemporaryDirectory(dir=cfg.tmp) as folder:
            path = Path(folder) / "w9.db"
            client = Client(path)
            eid = client.create_experiment("bench")
            client.close()
            rate, err = _concurrent(cfg, "w9_sqltrack", path, eid, cfg.log_runs, cfg.w9_procs)
            rates.append(rate)
            errors += err
            raw_path = Path(folder) / "raw9.db"
            _raw_db(raw_path).close()
            rate, err = _concurrent(cfg, "w9_raw", raw_path, None, cfg.log_runs, cfg.w9_procs)
            raw_rates.append(rate)
            errors += err
            schema_path = Path(folder) / "raw9-schema.db"
            rate, err = _concurrent(cfg, "w9_raw_schema", schema_path, w9_schema_store(schema_path), cfg.log_runs,
                                    cfg.w9_procs)
            schema_rates.append(rate)
            errors += err
    if mlflow_python:
        from . import mlflow_env

        for _ in range(cfg.reps):
            with tempfile.TemporaryDirectory(dir=cfg.tmp) as folder:
                path = Path(folder) / "w9.db"
                eid = mlflow_env.run("new_store", {"path": str(path)})["experiment_id"]
                rate, err = _concurrent(cfg, "mlflow", path, eid, cfg.mlflow_w9_runs, cfg.w9_procs,
                                        python=mlflow_python)
                ml_rates.append(rate)
                ml_errors += err
    size = f"{cfg.w9_procs} processes, {cfg.log_runs} runs x {PER_RUN} values in all"
    case = Case("W9", f"{cfg.w9_procs} processes logging per call into one file (aggregate)",
                Sample(rates, "points/s", size, f"errors: {errors}"),
                Sample(ml_rates, "points/s", f"{cfg.w9_procs} processes, {cfg.mlflow_w9_runs} runs in all",
                       f"errors: {ml_errors}") if ml_rates else None,
                Sample(raw_rates, "points/s", size, "executemany, one transaction per run, per process"),
                target=">= 200,000 points/s, zero errors")
    case.met = case.sqltrack.median >= 200_000 and errors == 0
    case.notes.append(f"errors (sqltrack and raw workers, all repetitions): {errors}")
    if ml_rates:
        case.notes.append(f"MLflow errors: {ml_errors} (its store was created before the workers started)")
    floor = Case("W9", f"{cfg.w9_procs} processes, vs raw sqlite3 writing the same rows into sqltrack's schema",
                 Sample(rates, "points/s", size), None,
                 Sample(schema_rates, "points/s", size, "sqltrack's tables and statements, rows made in advance, "
                        "two transactions per run as the fluent API takes them"))
    return [case, floor]


def w9_schema_store(path: Path) -> str:
    """A new sqltrack store for the raw-schema W9 workers, with its experiment and key names: the experiment id."""
    from sqltrack import Client

    from .workers import SYSTEM_TAGS

    client = Client(path)
    eid = client.create_experiment("bench")
    client.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        schema_key_names(conn, SYSTEM_TAGS)
    finally:
        conn.close()
    return eid
