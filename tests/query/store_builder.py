"""Build small deterministic SQLite stores for query tests by inserting rows with Core.

Direct inserts (rather than the Client) let a test choose run uuids and start times
exactly, which the golden corpus relies on for ordering. ``golden_runs()`` is the store
that ``fixtures/filters.txt`` is written against; it is plain data so a differential test
against MLflow can log the same runs there.
"""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert
from sqlalchemy.pool import StaticPool

from sqltrack.store import schema
from sqltrack.store.values import MAX_FLOAT, encode_metric, param_number

from .reference import RUN_NAME_TAG, RunSpec, summarize

NAN, INF = math.nan, math.inf


def build_store(path: Path | None, runs: list[RunSpec]) -> Engine:
    """Create a SQLite store at ``path`` (None: in memory) holding ``runs``; experiments 1 and 2 exist."""
    if path is None:
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(f"sqlite:///{path}")
    fill_store(engine, runs)
    return engine


def fill_store(engine: Engine, runs: list[RunSpec]) -> None:
    """Create the tables on an empty database and insert ``runs``."""
    global _NATIVE_INF
    _NATIVE_INF = engine.dialect.name not in ("mysql", "mariadb")
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(schema.experiments), [
            {"experiment_id": i, "name": f"exp{i}", "lifecycle_stage": "active", "creation_time": i}
            for i in (1, 2)])
        key_ids = _insert_keys(conn, runs)
        for run_id, run in enumerate(runs, start=1):
            _insert_run(conn, run_id, run, key_ids)


_NATIVE_INF = True


def _encode(value: float) -> tuple[float, int]:
    return encode_metric(value, _NATIVE_INF)


def _aggregate(value: float | None) -> float | None:
    """An aggregate as the store keeps it: ±inf become ±max-float where the backend has no inf."""
    if value is None or _NATIVE_INF or not math.isinf(value):
        return value
    return math.copysign(MAX_FLOAT, value)


def _insert_keys(conn, runs: list[RunSpec]) -> dict[str, int]:
    names = sorted({k for r in runs for k in (*r.params, *r.tags, *r.metrics)})
    key_ids = {name: i for i, name in enumerate(names, start=1)}
    if names:
        conn.execute(insert(schema.key_names), [{"id": i, "name": n} for n, i in key_ids.items()])
    return key_ids


def _insert_run(conn, run_id: int, run: RunSpec, key_ids: dict[str, int]) -> None:
    conn.execute(insert(schema.runs).values(
        id=run_id, run_uuid=run.uuid, experiment_id=run.experiment_id, name=run.label,
        user_id=run.user_id, status=run.status, start_time=run.start_time, end_time=run.end_time,
        lifecycle_stage=run.lifecycle_stage, artifact_uri=run.artifact_uri))
    if run.params:
        conn.execute(insert(schema.params), [
            {"run_id": run_id, "key_id": key_ids[k], "value": v, "value_num": param_number(v)}
            for k, v in run.params.items()])
    if run.tags:
        conn.execute(insert(schema.tags), [
            {"run_id": run_id, "key_id": key_ids[k], "value": v} for k, v in run.tags.items()])
    for key, history in run.metrics.items():
        _insert_metric(conn, run_id, key_ids[key], history)


def _insert_metric(conn, run_id: int, key_id: int, history: list[tuple[int, int, float]]) -> None:
    conn.execute(insert(schema.metrics), [
        {"run_id": run_id, "key_id": key_id, "step": s, "timestamp": t,
         "value": _encode(v)[0], "kind": _encode(v)[1]} for s, t, v in history])
    summary = summarize(history)
    (step, timestamp, value), first = summary["latest"], summary["first"]
    conn.execute(insert(schema.latest_metrics).values(
        run_id=run_id, key_id=key_id, step=step, timestamp=timestamp,
        value=_encode(value)[0], kind=_encode(value)[1],
        min_value=_aggregate(summary["min"]), max_value=_aggregate(summary["max"]),
        avg_value=_aggregate(summary["avg"]), sum_value=_aggregate(summary["sum"]),
        first_value=_encode(first[2])[0], first_kind=_encode(first[2])[1],
        first_step=first[0], first_timestamp=first[1], count=summary["count"], nan_count=summary["nan_count"]))


def _one(value: float) -> list[tuple[int, int, float]]:
    return [(0, 100, value)]


def golden_runs() -> list[RunSpec]:
    """The store of the golden corpus: 9 runs, mostly experiment 1 (see fixtures/filters.txt)."""
    return [
        RunSpec("alpha", "a1b2", status="FINISHED", start_time=1000, end_time=2000, user_id="alice",
                artifact_uri="file:///art/abc/1",
                params={"model": "LogisticRegression", "lambda": "0.001", "pca_var": "0.9", "lr": "0.001",
                        "batch_size": "32", "opt": "adam"},
                tags={RUN_NAME_TAG: "alpha", "mlflow.source.type": "LOCAL", "owner": "alice"},
                metrics={"mse": [(0, 10, 0.5), (1, 20, 0.15)], "accuracy": _one(0.95), "error": _one(0.04),
                         "f1 score": _one(0.6), "loss": [(0, 10, 1.0), (1, 20, 0.5), (2, 30, 0.2)],
                         "val_loss": _one(0.3), "train_loss": _one(0.2)}),
        RunSpec("beta", "c3d4", status="FAILED", start_time=2000, end_time=2500, user_id="bob",
                artifact_uri="file:///art/xyz/2",
                params={"model": "RandomForest", "lambda": "0.01", "pca_var": "0.95", "lr": "0.01",
                        "batch_size": "None", "opt": "sgd"},
                tags={RUN_NAME_TAG: "beta", "mlflow.source.type": "JOB"},
                metrics={"mse": _one(0.3), "accuracy": _one(0.91), "error": _one(0.09),
                         "loss": [(0, 10, 0.9), (1, 20, 0.8)], "log-scale-loss": _one(-1.5),
                         "val_loss": _one(0.2), "train_loss": _one(0.4)}),
        RunSpec("gamma", "f7e6d5c4b3a2918071625344a5b6c7d8", status="RUNNING", start_time=3000,
                user_id="alice", artifact_uri="s3://bucket/abc/3",
                params={"model": "LogisticRegression", "lambda": "0.001", "lr": "1e-4", "batch_size": "64",
                        "opt": "Adam"},
                tags={RUN_NAME_TAG: "gamma", "owner": "carol", "mlflow.source.type": "LOCAL"},
                metrics={"accuracy": _one(NAN), "mse": _one(INF), "loss": [(0, 10, NAN), (1, 20, NAN)],
                         "log-scale-loss": _one(0.0)}),
        RunSpec("delta", "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6", status="FINISHED", start_time=3000, end_time=4000,
                params={"lr": "0.1", "opt": "ADAM"},
                tags={RUN_NAME_TAG: "delta", "owner": "Alice"},
                metrics={"accuracy": _one(-INF), "mse": _one(0.1), "loss": _one(5.0), "val_loss": _one(0.5),
                         "train_loss": _one(0.5)}),
        RunSpec("epsilon", "e0e1e2e3e4e5e6e7e8e9eaebecedeeef", status="KILLED", user_id="dave",
                params={"lr": "abc", "model": "L'Hosp"},
                tags={RUN_NAME_TAG: "epsilon", "note": "50% off_sale", "mlflow.source.type": "LOCAL"},
                metrics={"accuracy": _one(0.92), "error": _one(0.05)}),
        RunSpec("zeta", "5a5b5c5d5e5f50515253545556575859", status="FINISHED", start_time=500, end_time=900,
                user_id="erin", tags={RUN_NAME_TAG: "zeta", "owner": "bob", "title": "[wip] a*b?c"}),
        RunSpec("eta", "9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e", status="FINISHED", start_time=4000, end_time=4100,
                user_id="Alice", artifact_uri="file:///art/ABC/7", params={"lr": "0.05"}),
        RunSpec("theta", "7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b", lifecycle_stage="deleted", start_time=5000,
                end_time=5100, tags={RUN_NAME_TAG: "theta"}, metrics={"accuracy": _one(0.99)}),
        RunSpec("iota", "1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c", experiment_id=2, start_time=6000, end_time=6100,
                tags={RUN_NAME_TAG: "iota"}, metrics={"accuracy": _one(0.97)}),
    ]
