"""MLflow's side of the suite, run in MLflow's own virtual environment (bench/.venv-mlflow).

    bench/.venv-mlflow/bin/python bench/mlflow_side.py COMMAND '{"json": "arguments"}'

Prints one JSON object on its last stdout line. Imports mlflow (3.17.2, pinned in
requirements-mlflow.txt) and ``common`` from this folder, never sqltrack. Stores use MLflow's
default SQLite settings (``sqlite:///path``), as a user gets them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def _client(path: Path):
    from mlflow import MlflowClient

    return MlflowClient(f"sqlite:///{path}")


def _new_store(path: Path) -> tuple[object, str]:
    """A new MLflow store with one experiment (schema creation is not timed)."""
    if path.exists():
        path.unlink()
    client = _client(path)
    return client, client.create_experiment("bench", artifact_location=str(path.parent / "mlartifacts"))


def w1(args: dict) -> dict:
    """Per-call logging with the fluent API, one call per value."""
    import mlflow

    folder, runs, reps = Path(args["folder"]), args["runs"], args["reps"]
    rates = []
    for rep in range(reps + 1):
        path = folder / f"w1-{rep}.db"
        _, eid = _new_store(path)
        mlflow.set_tracking_uri(f"sqlite:///{path}")
        mlflow.set_experiment(experiment_id=eid)
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
        rate = runs * common.PER_RUN / (time.perf_counter() - started)
        if rep:  # the first repetition warms up
            rates.append(rate)
    return {"rates": rates}


def w2(args: dict) -> dict:
    """One log_batch per run; also the bytes on disk per metric point (W7) of the last store."""
    from mlflow.entities import Metric, Param, RunTag

    folder, runs, reps = Path(args["folder"]), args["runs"], args["reps"]
    whole, batch_only, sizes = [], [], []
    for rep in range(reps + 1):
        path = folder / f"w2-{rep}.db"
        client, eid = _new_store(path)
        common.checkpoint(path)
        empty = path.stat().st_size
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
        if rep:
            whole.append(runs * common.PER_RUN / elapsed)
            batch_only.append(runs * common.PER_RUN / in_batch)
            common.checkpoint(path)
            sizes.append((path.stat().st_size - empty) / (runs * common.METRICS * common.STEPS))
    return {"rates": whole, "batch_rates": batch_only, "bytes_per_point": sizes}


def build_search(args: dict) -> dict:
    """Write the W3/W4 store in MLflow's schema: MLflow creates the schema, sqlite3 writes the rows."""
    path, n_runs = Path(args["path"]), args["runs"]
    started = time.perf_counter()
    client, eid = _new_store(path)
    del client
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    chunk: list = []

    def flush() -> None:
        runs_rows, params_rows, tags_rows, metric_rows, latest_rows = [], [], [], [], []
        for run in chunk:
            runs_rows.append((run.uuid, run.tags["mlflow.runName"], "LOCAL", "", "", "bench", "FINISHED",
                              run.start_time, run.start_time + 500, "", "active",
                              f"{path.parent}/mlartifacts/{run.uuid}/artifacts", int(eid)))
            params_rows += [(k, v, run.uuid) for k, v in run.params.items()]
            tags_rows += [(k, v, run.uuid) for k, v in run.tags.items()]
            for key, values in run.metrics.items():
                metric_rows += [(key, v, run.start_time + s, run.uuid, s, 0) for s, v in enumerate(values)]
                last = len(values) - 1
                latest_rows.append((key, values[last], run.start_time + last, last, 0, run.uuid))
        db.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id,"
                       " status, start_time, end_time, source_version, lifecycle_stage, artifact_uri,"
                       " experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs_rows)
        db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params_rows)
        db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags_rows)
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                       " VALUES (?, ?, ?, ?, ?, ?)", metric_rows)
        db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                       " VALUES (?, ?, ?, ?, ?, ?)", latest_rows)
        chunk.clear()

    db.execute("BEGIN")
    for run in common.search_runs_data(n_runs):
        chunk.append(run)
        if len(chunk) == 2000:
            flush()
    flush()
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"experiment_id": eid, "seconds": time.perf_counter() - started}


def w3(args: dict) -> dict:
    """The W3 searches MLflow can run, each repeated; seconds per search."""
    client = _client(Path(args["path"]))
    eid, reps = args["experiment_id"], args["reps"]
    result = {}
    for name in common.MLFLOW_SEARCHES:
        filter_string, order_by, max_results = common.SEARCHES[name]
        found = client.search_runs([eid], filter_string, max_results=max_results, order_by=order_by)  # warm-up
        times = []
        for _ in range(reps):
            started = time.perf_counter()
            found = client.search_runs([eid], filter_string, max_results=max_results, order_by=order_by)
            times.append(time.perf_counter() - started)
        result[name] = {"times": times, "found": len(found), "first": [r.info.run_id for r in found[:5]]}
    return result


def w4(args: dict) -> dict:
    """mlflow.search_runs -> pandas DataFrame of every run of the store."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{args['path']}")
    eid, reps, n = args["experiment_id"], args["reps"], args["runs"]
    frame = mlflow.search_runs([eid], max_results=n)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        frame = mlflow.search_runs([eid], max_results=n)
        times.append(time.perf_counter() - started)
    return {"times": times, "shape": list(frame.shape)}


def w5(args: dict) -> dict:
    """get_metric_history of metrics with the given step counts (written directly in MLflow's schema)."""
    path, reps = Path(args["path"]), args["reps"]
    client, eid = _new_store(path)
    run_id = client.create_run(eid).info.run_id
    db = sqlite3.connect(path)
    for steps in args["steps"]:
        key = f"h{steps}"
        db.execute("BEGIN")
        db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                       ((key, 1.0 / (s + 1), common.BASE_TIME + s, run_id, s) for s in range(steps)))
        db.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                   " VALUES (?, ?, ?, ?, 0, ?)", (key, 1.0 / steps, common.BASE_TIME + steps - 1, steps - 1, run_id))
        db.execute("COMMIT")
    db.close()
    result = {}
    for steps in args["steps"]:
        history = client.get_metric_history(run_id, f"h{steps}")
        times = []
        for _ in range(reps):
            started = time.perf_counter()
            history = client.get_metric_history(run_id, f"h{steps}")
            times.append(time.perf_counter() - started)
        result[str(steps)] = {"times": times, "points": len(history)}
    return result


def w9_worker(args: dict) -> dict:
    """One of the concurrent loggers: waits for the start time, logs its runs per call, reports."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{args['path']}")
    mlflow.set_experiment(experiment_id=args["experiment_id"])
    data = [common.run_values(r) for r in args["runs"]]
    errors = 0
    print("ready", flush=True)
    while not os.path.exists(args["go"]):
        time.sleep(0.0005)
    for params, tags, metrics in data:
        try:
            with mlflow.start_run():
                for key, value in params:
                    mlflow.log_param(key, value)
                for key, value in tags:
                    mlflow.set_tag(key, value)
                for key, value, timestamp, step in metrics:
                    mlflow.log_metric(key, value, step=step, timestamp=timestamp)
        except Exception as error:  # noqa: BLE001 - counted and reported
            errors += 1
            print(f"error: {error}", file=sys.stderr)
    return {"end": time.time(), "errors": errors}


def new_store(args: dict) -> dict:
    """Create a store with one experiment (for W9) and return the experiment id."""
    _, eid = _new_store(Path(args["path"]))
    return {"experiment_id": eid}


COMMANDS = {f.__name__: f for f in (w1, w2, build_search, w3, w4, w5, w9_worker, new_store)}

if __name__ == "__main__":
    out = COMMANDS[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(out))
