"""Helpers for comparing stores with each other and with what MLflow reports."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from sqltrack.entities import ViewType
from sqltrack.store import bulk
from sqltrack.store.schema import runs


def normalize(value: Any) -> Any:
    """Make NaN comparable (as the string 'nan') everywhere in nested data."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def client_dump(client) -> dict:
    """What sqltrack's Client reports, in the shape of tests/fixtures/mlflow_tool.py's dump."""
    exps = client.search_experiments(view_type=ViewType.ALL, max_results=None)
    data = {"experiments": [_experiment(e) for e in exps], "runs": []}
    found = client.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL, max_results=None)
    for run in found:
        data["runs"].append(_run(client, run))
    return data


def _experiment(e) -> dict:
    return {"experiment_id": e.experiment_id, "name": e.name, "lifecycle_stage": e.lifecycle_stage,
            "creation_time": e.creation_time, "last_update_time": e.last_update_time, "tags": dict(e.tags)}


def _run(client, run) -> dict:
    info, data = run.info, run.data
    histories = {k: sorted([m.timestamp, m.value, m.step] for m in client.get_metric_history(info.run_id, k))
                 for k in data.metrics}
    return {"run_id": info.run_id, "experiment_id": info.experiment_id, "run_name": info.run_name,
            "status": info.status, "start_time": info.start_time, "end_time": info.end_time,
            "user_id": info.user_id, "lifecycle_stage": info.lifecycle_stage, "params": dict(data.params),
            "tags": dict(data.tags), "metrics": dict(data.metrics), "histories": histories,
            "artifacts": sorted(_artifacts(client, info.run_id, None))}


def _artifacts(client, run_id: str, path: str | None) -> list:
    found = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found += _artifacts(client, run_id, item.path)
        else:
            found.append([item.path, item.file_size])
    return found


def by_id(dump: dict) -> tuple[dict, dict]:
    """(experiments by id, runs by id) of a dump, NaN-normalised.

    Exact duplicate points (same timestamp, value and step) count once: sqltrack stores a
    point once, as MLflow's SQL store does, while an mlruns metric file can repeat a line
    (MLflow 3 writes a run's metrics again when a model is logged).
    """
    runs = {}
    for run in dump["runs"]:
        run = normalize(run)
        run["histories"] = {k: _unique(v) for k, v in run["histories"].items()}
        runs[run["run_id"]] = run
    return {e["experiment_id"]: normalize(e) for e in dump["experiments"]}, runs


def _unique(points: list) -> list:
    seen, kept = set(), []
    for point in points:
        if tuple(point) not in seen:
            seen.add(tuple(point))
            kept.append(point)
    return kept


def store_state(store) -> tuple[dict, dict]:
    """Everything a store holds, independent of internal ids and of its own artifact folder."""
    exps = store.read(bulk.load_experiments)
    experiments = {k: (v.name, v.lifecycle_stage, v.creation_time, v.last_update_time, v.tags)
                   for k, v in exps.items()}
    uuids = store.read(lambda conn: list(conn.execute(select(runs.c.run_uuid)).scalars()))
    contents = store.read(lambda conn: bulk.load_contents(conn, uuids))
    run_rows = store.read(lambda conn: {r.run_uuid: tuple(r)[1:] for r in conn.execute(select(runs))})
    return experiments, {u: (c, run_rows[u]) for u, (_, c) in contents.items()}
