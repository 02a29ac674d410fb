"""Per-call and batched logging throughput, against raw sqlite3 in the same run.

    python bench/bench_logging.py [--runs 50] [--repeat 5]

Workload (issue 5's W1/W2 shape): each run has 10 params, 10 tags and 10 metrics x 50
steps; "points" counts every logged value. Baselines: stdlib sqlite3 executemany into
a minimal WITHOUT ROWID table (the physical limit) and one autocommit INSERT per value.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARAMS, TAGS, METRICS, STEPS = 10, 10, 10, 50
PER_RUN = PARAMS + TAGS + METRICS * STEPS


def per_call(folder: Path, runs: int) -> float:
    import sqltrack as mlflow

    mlflow.set_tracking_uri(str(folder / "per_call.db"))
    mlflow.set_experiment("bench")
    started = time.perf_counter()
    for _ in range(runs):
        with mlflow.start_run():
            for p in range(PARAMS):
                mlflow.log_param(f"p{p}", p)
            for t in range(TAGS):
                mlflow.set_tag(f"t{t}", t)
            for step in range(STEPS):
                for m in range(METRICS):
                    mlflow.log_metric(f"m{m}", step * 0.5 + m, step=step)
    return runs * PER_RUN / (time.perf_counter() - started)


def batched(folder: Path, runs: int) -> float:
    from sqltrack import Client, Metric, Param, RunTag

    client = Client(folder / "batch.db")
    eid = client.create_experiment("bench")
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for _ in range(runs):
        run_id = client.create_run(eid).info.run_id
        client.log_batch(run_id, metrics=[Metric(f"m{m}", s * 0.5 + m, now, s) for s in range(STEPS)
                                          for m in range(METRICS)],
                         params=[Param(f"p{p}", str(p)) for p in range(PARAMS)],
                         tags=[RunTag(f"t{t}", str(t)) for t in range(TAGS)])
        client.set_terminated(run_id)
    rate = runs * PER_RUN / (time.perf_counter() - started)
    client.close()
    return rate


def _raw_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE m(run INTEGER, key INTEGER, step INTEGER, ts INTEGER, value REAL,"
                 " PRIMARY KEY(run, key, step, ts)) WITHOUT ROWID")
    return conn


def raw_executemany(folder: Path, runs: int) -> float:
    conn = _raw_db(folder / "raw_many.db")
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for run in range(runs):
        rows = [(run, k, s, now, s * 0.5) for k in range(PARAMS + TAGS + METRICS) for s in range(STEPS)][:PER_RUN]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    return runs * PER_RUN / (time.perf_counter() - started)


def raw_autocommit(folder: Path, runs: int) -> float:
    conn = _raw_db(folder / "raw_one.db")
    now = int(time.time() * 1000)
    started = time.perf_counter()
    for run in range(runs):
        for k in range(PARAMS + TAGS + METRICS):
            for s in range(STEPS):
                if k * STEPS + s < PER_RUN:
                    conn.execute("INSERT INTO m VALUES (?, ?, ?, ?, ?)", (run, k, s, now, s * 0.5))
    return runs * PER_RUN / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {"sqltrack log_metric/param/tag per call": per_call, "sqltrack log_batch per run": batched,
             "raw sqlite3 executemany (limit)": raw_executemany, "raw sqlite3 autocommit per value": raw_autocommit}
    results = {}
    for name, case in cases.items():
        rates = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                rates.append(case(Path(folder), args.runs))
        results[name] = rates
    limit = statistics.median(results["raw sqlite3 executemany (limit)"])
    print(f"{args.runs} runs x {PER_RUN} values, median of {args.repeat}; SQLite {sqlite3.sqlite_version}, "
          f"Python {sys.version.split()[0]}")
    print(f"| workload | median points/s | min | max | vs raw executemany |\n|---|---:|---:|---:|---:|")
    for name, rates in results.items():
        med = statistics.median(rates)
        print(f"| {name} | {med:,.0f} | {min(rates):,.0f} | {max(rates):,.0f} | {med / limit:.0%} |")


if __name__ == "__main__":
    main()
