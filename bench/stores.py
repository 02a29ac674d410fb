"""Large stores for the read workloads, generated once and cached under bench/.cache.

Both sides are written the same way: the tool creates its own schema and experiment
through its API, then stdlib sqlite3 writes the rows of ``common.search_runs_data``
straight into its tables (logging 100,000 runs through either API would take most of
the time budget, MLflow's hours). sqltrack's ``latest_metrics`` aggregates are computed
here and checked against the store's own summary code on the first run.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from . import common

BUILD_VERSION = "1"  # bump when the generated data or the way it is written changes


def _cached(name: str) -> Path:
    common.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    return common.CACHE_DIR / name


def sqltrack_search_store(n_runs: int, log=print) -> tuple[Path, str]:
    """(path, experiment id) of a sqltrack store of ``n_runs`` search runs."""
    from sqltrack.store.schema import SCHEMA_REVISION

    path = _cached(f"sqltrack-search-{n_runs}-{SCHEMA_REVISION}-v{BUILD_VERSION}.db")
    if not path.exists():
        log(f"building {path.name} (cached for later runs)")
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        _remove(tmp)
        _build_sqltrack(tmp, n_runs)
        shutil.move(tmp, path)
        log(f"  built in {time.perf_counter() - started:.1f} s")
    return path, "1"


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _build_sqltrack(path: Path, n_runs: int) -> None:
    from sqltrack import Client
    from sqltrack.store.values import param_number

    client = Client(path)
    eid = client.create_experiment("bench")
    assert eid == "1", eid
    client.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    names = ([f"p{i}" for i in range(common.SEARCH_PARAMS)] + [f"m{i}" for i in range(common.SEARCH_METRICS)]
             + ["mlflow.runName"] + [f"t{i}" for i in range(common.SEARCH_TAGS)])
    db.executemany("INSERT INTO key_names (name) VALUES (?)", [(n,) for n in names])
    key = dict(db.execute("SELECT name, id FROM key_names"))
    db.execute("BEGIN")
    chunk: list = []

    def flush() -> None:
        runs, params, tags, points, latest = [], [], [], [], []
        for run in chunk:
            rid = run.number
            runs.append((rid, run.uuid, 1, run.tags["mlflow.runName"], "bench", "FINISHED", run.start_time,
                         run.start_time + 500, "active", f"runs:/{run.uuid}", "LOCAL", run.start_time + 500))
            params += [(rid, key[k], v, param_number(v)) for k, v in run.params.items()]
            tags += [(rid, key[k], v) for k, v in run.tags.items()]
            for name, values in run.metrics.items():
                kid = key[name]
                points += [(rid, kid, s, run.start_time + s, v, 0) for s, v in enumerate(values)]
                latest.append(_latest_row(rid, kid, run.start_time, values))
        db.executemany("INSERT INTO runs (id, run_uuid, experiment_id, name, user_id, status, start_time, end_time,"
                       " lifecycle_stage, artifact_uri, source_type, last_activity_time)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
        db.executemany("INSERT INTO params (run_id, key_id, value, value_num) VALUES (?, ?, ?, ?)", params)
        db.executemany("INSERT INTO tags (run_id, key_id, value) VALUES (?, ?, ?)", tags)
        db.executemany("INSERT INTO metrics (run_id, key_id, step, timestamp, value, kind)"
                       " VALUES (?, ?, ?, ?, ?, ?)", sorted(points))
        db.executemany("INSERT INTO latest_metrics (run_id, key_id, step, timestamp, value, kind, min_value,"
                       " max_value, avg_value, sum_value, first_value, first_kind, first_step, first_timestamp,"
                       " count, nan_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", latest)
        chunk.clear()

    for run in common.search_runs_data(n_runs):
        chunk.append(run)
        if run.number == 1:
            _check_latest(key, run)
        if len(chunk) == 2000:
            flush()
    flush()
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _latest_row(rid: int, kid: int, start: int, values: list[float]) -> tuple:
    last = len(values) - 1
    total = sum(values)
    return (rid, kid, last, start + last, values[last], 0, min(values), max(values), total / len(values), total,
            values[0], 0, 0, start, len(values), 0)


def _check_latest(key: dict, run) -> None:
    """The aggregates written here equal what sqltrack's own write path computes."""
    from sqltrack.store.batch import Point, _Summary

    for name, values in run.metrics.items():
        points = [Point(name, s, run.start_time + s, v) for s, v in enumerate(values)]
        want = _Summary.of(points).row(run.number, key[name], True)
        got = _latest_row(run.number, key[name], run.start_time, values)
        assert got == want, (got, want)


def mlflow_search_store(n_runs: int, mlflow_run, log=print) -> tuple[Path, str]:
    """(path, experiment id) of an MLflow store of ``n_runs`` search runs, built in MLflow's interpreter."""
    path = _cached(f"mlflow-search-{n_runs}-v{BUILD_VERSION}.db")
    stamp = path.with_suffix(".eid")
    if not (path.exists() and stamp.exists()):
        log(f"building {path.name} (cached for later runs)")
        tmp = path.with_suffix(".tmp")
        _remove(tmp)
        out = mlflow_run("build_search", {"path": str(tmp), "runs": n_runs})
        shutil.move(tmp, path)
        stamp.write_text(str(out["experiment_id"]))
        log(f"  built in {out['seconds']:.1f} s")
    return path, stamp.read_text()
