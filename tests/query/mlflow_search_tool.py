"""Log a data set into real MLflow and run searches there; run in a subprocess of the tests.

    python mlflow_search_tool.py SPEC.json OUT.json

SPEC: ``{"tracking_uri", "experiments": [{"name", "artifact_location"}], "runs": [...],
"queries": [...]}`` (see ``test_mlflow_differential.py``, which writes it). OUT:
``{"created": {name: run_id}, "experiments": {name: id}, "results": {query id: {"ids": [...],
"pages": [[...], ...]} or {"error": "..."}}}``.

MLflow's stores draw run ids from ``uuid.uuid4().hex`` inside ``create_run``; this script
hands them the ids the data set chooses (``_PinnedIds``) so that both stores and sqltrack
hold the same ids and break start-time ties (``run_id ASC``) the same way. Everything else
goes through ``MlflowClient``'s public API. Kept out of the test process so that MLflow's
global state, logging and import cost never reach the other tests. File stores need
MLFLOW_ALLOW_FILE_STORE=true, which the test sets.
"""

from __future__ import annotations

import json
import sys
import uuid
from types import SimpleNamespace

VIEW_TYPES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}


class _PinnedIds:
    """Stands in for the ``uuid`` module of MLflow's stores: the next ``uuid4()`` is the pinned id."""

    def __init__(self) -> None:
        self.next: str | None = None

    def uuid4(self):
        if self.next is None:
            return uuid.uuid4()
        value, self.next = self.next, None
        return SimpleNamespace(hex=value)

    def __getattr__(self, name: str):
        return getattr(uuid, name)


def _pin_run_ids() -> _PinnedIds:
    from mlflow.store.tracking import file_store, sqlalchemy_store

    pinned = _PinnedIds()
    sqlalchemy_store.uuid = pinned
    file_store.uuid = pinned
    return pinned


def log_runs(client, spec: dict, pinned: _PinnedIds) -> tuple[dict, dict]:
    """Create the experiments and runs of the spec; returns ({experiment: id}, {run name: run id})."""
    from mlflow.entities import Metric, Param, RunTag

    experiments = {e["name"]: client.create_experiment(e["name"], artifact_location=e["artifact_location"])
                   for e in spec["experiments"]}
    created = {}
    for run in spec["runs"]:
        pinned.next = run["run_id"]
        made = client.create_run(experiments[run["experiment"]], start_time=run["start_time"],
                                 tags={"mlflow.user": run["user"]}, run_name=run["name"])
        run_id = made.info.run_id
        created[run["name"]] = run_id
        metrics = [Metric(key, value, timestamp, step)
                   for key, points in run["metrics"].items() for step, timestamp, value in points]
        params = [Param(key, value) for key, value in run["params"].items()]
        tags = [RunTag(key, value) for key, value in run["tags"].items()]
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        _finish(client, run_id, run)
    return experiments, created


def _finish(client, run_id: str, run: dict) -> None:
    if run["status"] != "RUNNING":
        if run["end_time"] is None:
            client.update_run(run_id, status=run["status"])
        else:
            client.set_terminated(run_id, status=run["status"], end_time=run["end_time"])
    if run["drop_run_name_tag"]:
        client.delete_tag(run_id, "mlflow.runName")
    if run["deleted"]:
        client.delete_run(run_id)


def search(client, query: dict, experiments: dict) -> dict:
    """The run ids one query returns (every page when it pages), or MLflow's error message."""
    from mlflow.exceptions import MlflowException

    ids = [experiments[name] for name in query["experiments"]]
    kwargs = {"filter_string": query["filter"] or "", "run_view_type": VIEW_TYPES[query["view"]],
              "order_by": query["order_by"] or None}
    try:
        if query["page_size"] is None:
            found = client.search_runs(ids, max_results=query["max_results"], **kwargs)
            return {"ids": [r.info.run_id for r in found], "token": found.token is not None}
        pages, token = [], None
        while True:
            found = client.search_runs(ids, max_results=query["page_size"], page_token=token, **kwargs)
            pages.append([r.info.run_id for r in found])
            token = found.token
            if not token or len(pages) > 1000:
                break
        return {"ids": [i for page in pages for i in page], "pages": pages}
    except MlflowException as error:
        return {"error": error.message}
    except Exception as error:  # noqa: BLE001 - MLflow raises plain errors too (spec §8); report, do not crash
        return {"error": f"{type(error).__name__}: {error}"}


def main(spec_path: str, out_path: str) -> None:
    from mlflow import MlflowClient

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    pinned = _pin_run_ids()
    client = MlflowClient(tracking_uri=spec["tracking_uri"])
    experiments, created = log_runs(client, spec, pinned)
    results = {query["id"]: search(client, query, experiments) for query in spec["queries"]}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"created": created, "experiments": experiments, "results": results}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
