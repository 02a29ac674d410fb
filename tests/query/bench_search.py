"""Benchmark run search on a generated store (not a test; run by hand).

    python tests/query/bench_search.py /tmp/bench.db [runs]

Builds (once) a SQLite store of N runs (default 100,000) x 20 params, 10 metrics and 5 tags
in one experiment, then prints EXPLAIN QUERY PLAN and the median latency of a few searches
with LIMIT 101. The store is written with the driver's executemany for speed; only
``latest_metrics`` is filled (search never reads the full history).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine  # noqa: E402

from sqltrack.entities import ViewType  # noqa: E402
from sqltrack.query.search import build_run_search  # noqa: E402
from sqltrack.store import schema  # noqa: E402

PARAMS = ["lr", "optimizer"] + [f"p{i}" for i in range(2, 20)]
METRICS = ["acc", "loss"] + [f"m{i}" for i in range(2, 10)]
TAGS = ["mlflow.runName", "team"] + [f"t{i}" for i in range(2, 5)]
OPTIMIZERS = ["adam", "sgd", "rmsprop", "adagrad", "lion"]
LRS = ["0.1", "0.03", "0.01", "0.003", "0.001", "0.0003", "0.0001", "3e-05", "1e-05", "3e-06"]

SEARCHES = [
    ("selective 2-clause AND + order", "params.optimizer = 'lion' AND metrics.acc > 0.999", ["metrics.acc DESC"]),
    ("very selective param", "params.p7 = '4242'", ["metrics.loss"]),
    ("OR of two selective clauses", "params.p7 = '4242' OR metrics.acc > 0.9999", ["metrics.acc DESC"]),
    ("aggregate + numeric param", "min(metrics.loss) < 0.001 AND params.lr < 0.0001", ["start_time DESC"]),
    ("LIKE prefix on a tag", "tags.team LIKE 'team-1%' AND metrics.acc > 0.999", []),
    ("no filter, default order", None, []),
    ("3-clause AND", "params.optimizer = 'adam' AND params.lr = '0.01' AND metrics.loss < 0.01", []),
    ("non-selective filter, default order", "metrics.acc > 0.5", []),
    ("non-selective filter, metric order", "metrics.acc > 0.5", ["metrics.acc DESC"]),
]


def generate(path: Path, n_runs: int) -> None:
    """Write the benchmark store at ``path``."""
    engine = create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    engine.dispose()
    rnd = random.Random(42)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (1, 'bench', 'active')")
    names = PARAMS + METRICS + TAGS
    db.executemany("INSERT INTO key_names (id, name) VALUES (?, ?)", list(enumerate(names, start=1)))
    key = {name: i for i, name in enumerate(names, start=1)}
    db.executemany(
        "INSERT INTO runs (id, run_uuid, experiment_id, name, status, start_time, end_time, lifecycle_stage)"
        " VALUES (?, ?, 1, ?, 'FINISHED', ?, ?, 'active')",
        ((i, f"{rnd.getrandbits(128):032x}", f"run-{i}", 1_700_000_000_000 + i * 1000,
          1_700_000_000_000 + i * 1000 + 500) for i in range(1, n_runs + 1)))
    db.executemany("INSERT INTO params (run_id, key_id, value, value_num) VALUES (?, ?, ?, ?)",
                   (row for i in range(1, n_runs + 1) for row in _params(rnd, i, key)))
    db.executemany("INSERT INTO tags (run_id, key_id, value) VALUES (?, ?, ?)",
                   ((i, key[t], f"run-{i}" if t == "mlflow.runName" else f"team-{rnd.randrange(50)}")
                    for i in range(1, n_runs + 1) for t in TAGS))
    db.executemany(
        "INSERT INTO latest_metrics (run_id, key_id, step, timestamp, value, kind, min_value, max_value,"
        " avg_value, sum_value, first_value, first_kind, first_step, first_timestamp, count, nan_count)"
        " VALUES (?, ?, 9, 0, ?, 0, ?, ?, ?, ?, ?, 0, 0, 0, 10, 0)",
        (row for i in range(1, n_runs + 1) for row in _metrics(rnd, i, key)))
    db.commit()
    db.execute("ANALYZE")
    db.close()


def _params(rnd: random.Random, run: int, key: dict) -> list[tuple]:
    lr = rnd.choice(LRS)
    rows = [(run, key["lr"], lr, float(lr)), (run, key["optimizer"], rnd.choice(OPTIMIZERS), None)]
    for name in PARAMS[2:]:
        value = rnd.randrange(10_000)
        rows.append((run, key[name], str(value), float(value)))
    return rows


def _metrics(rnd: random.Random, run: int, key: dict) -> list[tuple]:
    rows = []
    for name in METRICS:
        value = rnd.random()
        low = value * rnd.random()
        rows.append((run, key[name], value, low, value + 1, (low + value) / 2, value * 10, value + 1))
    return rows


def measure(engine, label: str, filter_string, order_by, repeat: int = 15) -> float:
    """Print the plan and the median time (ms) of one search with LIMIT 101."""
    query = build_run_search(filter_string, order_by, [1], ViewType.ACTIVE_ONLY, "sqlite").limit(101)
    times = []
    with engine.connect() as conn:
        for _ in range(repeat):
            start = time.perf_counter()
            rows = conn.execute(query).all()
            times.append((time.perf_counter() - start) * 1000)
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(query.compile(
            dialect=engine.dialect, compile_kwargs={"literal_binds": True}))).all()
    median = statistics.median(times)
    print(f"\n== {label}: {filter_string!r} order_by={order_by} -> {len(rows)} rows, median {median:.1f} ms")
    for row in plan:
        print("   ", row[-1])
    return median


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sqltrack-bench.db")
    n_runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    if not path.exists():
        start = time.perf_counter()
        generate(path, n_runs)
        print(f"generated {n_runs} runs in {time.perf_counter() - start:.0f} s at {path}")
    engine = create_engine(f"sqlite:///{path}")
    for label, filter_string, order_by in SEARCHES:
        measure(engine, label, filter_string, order_by)


if __name__ == "__main__":
    main()
