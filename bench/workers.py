"""Worker processes of the concurrent workload (W9): ``python -m bench.workers KIND 'json-args'``.

Each imports and opens the store first, says "ready", waits for the go file, logs its share
of W1's runs, and prints ``{"end": time, "errors": n}``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

from . import common


def wait_for_go(go: str) -> None:
    """Say "ready" on stdout, then wait until the harness writes the go file."""
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.0005)


def w9_sqltrack(args: dict) -> dict:
    import sqltrack as mlflow

    mlflow.set_tracking_uri(args["path"])
    mlflow.set_experiment(experiment_id=args["experiment_id"])
    data = [common.run_values(r) for r in args["runs"]]
    wait_for_go(args["go"])
    errors = 0
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


def w9_raw(args: dict) -> dict:
    from .logging_bench import _raw_rows

    conn = sqlite3.connect(args["path"], isolation_level=None, timeout=60)
    conn.execute("PRAGMA synchronous=NORMAL")
    data = [_raw_rows(r) for r in args["runs"]]
    wait_for_go(args["go"])
    errors = 0
    for points, texts in data:
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO kv VALUES (?, ?, ?)", texts)
            conn.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", points)
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            errors += 1
            print(f"error: {error}", file=sys.stderr)
    return {"end": time.time(), "errors": errors}


if __name__ == "__main__":
    result = {"w9_sqltrack": w9_sqltrack, "w9_raw": w9_raw}[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(result))
