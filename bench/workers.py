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


#: The tags the fluent API's start_run writes with every run (the run name's value is generated).
SYSTEM_TAGS = ("mlflow.runName", "mlflow.user", "mlflow.source.name", "mlflow.source.type")


def w9_raw_schema(args: dict) -> dict:
    """sqltrack's own statements and rows (made in advance) into its schema, in the two transactions per
    run that the fluent API takes: the run's creation with its system tags, and its end with every value.

    The floor of W9 on SQLite with this schema; the store and its key names exist beforehand
    (``logging_bench.schema_key_names``).
    """
    import uuid

    from sqltrack.store import sqlite_path as SQ

    from .logging_bench import schema_rows

    conn = sqlite3.connect(args["path"], isolation_level=None, timeout=60)
    conn.execute("PRAGMA synchronous=NORMAL")
    kid = dict(conn.execute("SELECT name, id FROM key_names"))
    eid = int(args["experiment_id"])
    data = [(uuid.uuid4().hex, schema_rows(r, 0, kid)) for r in args["runs"]]
    wait_for_go(args["go"])
    errors = 0
    for run_uuid, rows in data:
        try:
            _raw_schema_run(conn, SQ, kid, eid, run_uuid, rows)
        except sqlite3.Error as error:
            errors += 1
            print(f"error: {error}", file=sys.stderr)
    return {"end": time.time(), "errors": errors}


def _raw_schema_run(conn: sqlite3.Connection, SQ, kid: dict, eid: int, run_uuid: str, rows: tuple) -> None:
    now = int(time.time() * 1000)
    conn.execute("BEGIN IMMEDIATE")
    rid = conn.execute(SQ.INSERT_RUN, (run_uuid, "run", "bench", "RUNNING", now, f"runs:/{run_uuid}", now,
                                       eid)).lastrowid
    SQ.insert_rows(conn, SQ.UPSERT_TAGS, [(rid, kid[k], "run" if k == "mlflow.runName" else "bench")
                                          for k in SYSTEM_TAGS])
    conn.execute("COMMIT")
    p_rows, t_rows, m_rows, latest = ([(rid, *row[1:]) for row in part] for part in rows)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(SQ.TOUCH_RUN, (now, rid, run_uuid))
    SQ.insert_rows(conn, SQ.INSERT_PARAMS, p_rows)
    SQ.insert_rows(conn, SQ.UPSERT_TAGS, t_rows)
    SQ.insert_rows(conn, SQ.INSERT_POINTS, m_rows)
    conn.execute("SELECT key_id FROM latest_metrics WHERE run_id = ?", (rid,)).fetchall()
    SQ.insert_rows(conn, SQ.UPSERT_LATEST, latest)
    conn.execute(SQ.SET_STATUS, ("FINISHED", now, now, rid, run_uuid))
    conn.execute("COMMIT")


if __name__ == "__main__":
    kinds = {"w9_sqltrack": w9_sqltrack, "w9_raw": w9_raw, "w9_raw_schema": w9_raw_schema}
    result = kinds[sys.argv[1]](json.loads(sys.argv[2]))
    print(json.dumps(result))
