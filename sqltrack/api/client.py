"""The explicit client: every operation of a store, addressed by experiment and run ids."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Iterable, Mapping, Sequence

from ..entities import ACTIVE_ONLY, RUN_STATUSES, Experiment, FileInfo, Metric, Param, Run, RunData, RunInfo, RunTag
from ..errors import InvalidParameter
from ..store import Store, batch, experiments, open_store, reads, runs
from .buffer import WriteBuffer
from .paging import PagedList


def _now_ms() -> int:
    return int(time.time() * 1000)


class Client:
    """Explicit access to one store (``sqltrack.MlflowClient`` is the same class).

    Args:
        tracking_uri: a SQLite file path, a SQLAlchemy URL, or None for the default
            (``SQLTRACK_TRACKING_URI`` or ``./sqltrack.db``).
        artifact_root: where artifact blobs go (default: beside the database).
        read_only: open for searching and exporting only.
    """

    def __init__(self, tracking_uri: str | os.PathLike | None = None, *,
                 artifact_root: str | os.PathLike | None = None, read_only: bool = False) -> None:
        self._store: Store = open_store(tracking_uri, artifact_root=artifact_root, read_only=read_only)
        self._ending: dict[str, tuple[str, int]] = {}  # run_id -> (status, end_time) while set_terminated flushes
        self._buffer = WriteBuffer(self._write_pending, gate=self._store.refuse_writes)
        self.tracking_uri = str(tracking_uri) if tracking_uri is not None else self._store.url

    @property
    def store(self) -> Store:
        return self._store

    # ----- experiments -------------------------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: Mapping[str, Any] | None = None) -> str:
        """Create an experiment; returns its id."""
        return experiments.create_experiment(self._store, name, artifact_location,
                                             {k: str(v) for k, v in (tags or {}).items()})

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        return experiments.get_experiment(self._store, experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return experiments.find_experiment_by_name(self._store, name)

    def delete_experiment(self, experiment_id: str | int) -> None:
        """Soft-delete an experiment and its runs (``sqltrack gc`` removes them for good)."""
        experiments.set_lifecycle(self._store, experiment_id, "deleted")

    def restore_experiment(self, experiment_id: str | int) -> None:
        experiments.set_lifecycle(self._store, experiment_id, "active")

    def rename_experiment(self, experiment_id: str | int, new_name: str) -> None:
        experiments.rename_experiment(self._store, experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str | int, key: str, value: Any) -> None:
        experiments.set_experiment_tag(self._store, experiment_id, key, str(value))

    def search_experiments(self, view_type: int = ACTIVE_ONLY, max_results: int | None = None,
                           filter_string: str | None = None, order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList[Experiment]:
        """Experiments matching MLflow's experiment filter syntax (plus OR/NOT/parentheses)."""
        from .search import search_experiments

        return search_experiments(self._store, view_type, max_results, filter_string, order_by, page_token)

    # ----- runs --------------------------------------------------------------------------
    def create_run(self, experiment_id: str | int, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None) -> Run:
        """Create a RUNNING run; the name is generated when not given (and kept in mlflow.runName)."""
        from .naming import generate_run_name

        tag_values = batch.prepare_tags({k: str(v) for k, v in (tags or {}).items()})
        name = run_name or tag_values.get(runs.RUN_NAME_TAG) or generate_run_name()
        if runs.RUN_NAME_TAG in tag_values and run_name and tag_values[runs.RUN_NAME_TAG] != run_name:
            raise InvalidParameter(f"run_name {run_name!r} differs from the mlflow.runName tag "
                                   f"{tag_values[runs.RUN_NAME_TAG]!r}; give one of them.")
        tag_values[runs.RUN_NAME_TAG] = name
        user = tag_values.get("mlflow.user", "unknown")  # MLflow's client does the same
        start = _now_ms() if start_time is None else int(start_time)
        run_id, _ = runs.create_run(self._store, experiment_id, run_name=name, user_id=user,
                                    start_time=start, tags_=tag_values)
        info = RunInfo(run_id=run_id, experiment_id=str(experiment_id), run_name=name, user_id=user,
                       status="RUNNING", start_time=start, end_time=None, artifact_uri=f"runs:/{run_id}",
                       lifecycle_stage="active")
        return Run(info, RunData({}, {}, dict(tag_values)))

    def get_run(self, run_id: str) -> Run:
        """The run with its params, tags and latest metrics (pending values of this client included)."""
        self._buffer.flush(run_id)
        return reads.get_run(self._store, run_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        self._buffer.flush(run_id)
        runs.update_run(self._store, run_id, status=status, run_name=name)

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        """End a run: write its pending values and set status and end time, in one transaction.

        Ending a run costs one write transaction, not two (values, then status): under 8
        processes sharing a SQLite file each transaction is a turn at the write lock. If the
        values are refused, the run is not ended either, as before.
        """
        end = end_time or _now_ms()
        if status not in RUN_STATUSES:
            raise InvalidParameter(f"Invalid run status {status!r}; use one of {', '.join(RUN_STATUSES)}.")
        self._ending[run_id] = (status, end)
        try:
            self._buffer.flush(run_id)
        finally:
            ended = self._ending.pop(run_id, None) is None
        if not ended:  # nothing was pending: the status update alone
            runs.update_run(self._store, run_id, status=status, end_time=end)
        self._buffer.forget_run(run_id)

    def delete_run(self, run_id: str) -> None:
        self._buffer.flush(run_id)
        runs.set_run_lifecycle(self._store, run_id, "deleted")

    def restore_run(self, run_id: str) -> None:
        runs.set_run_lifecycle(self._store, run_id, "active")

    # ----- logging -----------------------------------------------------------------------
    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log a param (stored as ``str(value)``); params are write-once."""
        values = batch.prepare_params({key: value})
        self._buffer.add_param(run_id, key, values[key])
        self._maybe_sync(run_id, synchronous)
        return value

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None, synchronous: bool | None = None) -> None:
        """Log one metric point; cheap: points are written in batches (see ``sqltrack.api.buffer``)."""
        self._buffer.add_point(run_id, batch.make_point(key, value, _now_ms() if timestamp is None else timestamp,
                                                        step or 0))
        if synchronous:
            self._buffer.flush(run_id)

    def set_tag(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> None:
        values = batch.prepare_tags({key: value})
        self._buffer.add_tag(run_id, key, values[key])
        self._maybe_sync(run_id, synchronous)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._buffer.flush(run_id)
        runs.delete_tag(self._store, run_id, key)

    def log_batch(self, run_id: str, metrics: Iterable[Metric] = (), params: Iterable[Param] = (),
                  tags: Iterable[RunTag] = (), synchronous: bool | None = None) -> None:
        """Write metrics, params and tags at once, in one transaction; durable when it returns."""
        points = batch.prepare_points(metrics)
        param_values = _unique_params(params)
        tag_values = batch.prepare_tags({t.key: t.value for t in tags})
        self._buffer.flush(run_id)
        self._write_pending(run_id, points, param_values, tag_values)
        self._buffer.remember_params(run_id, param_values)

    def _maybe_sync(self, run_id: str, synchronous: bool | None) -> None:
        if synchronous:
            self._buffer.flush(run_id)

    def _write_pending(self, run_id: str, points: list, params: dict, tags: dict) -> None:
        store, now = self._store, _now_ms()
        ending = self._ending.get(run_id)
        prepared = batch.prepare_point_rows(store, run_id, points)  # outside the write lock

        def unit(conn) -> None:
            rid = runs.run_internal_id(store, conn, run_id)
            if ending is not None:  # first: a run purged meanwhile is refused before anything is written
                runs.set_status(conn, rid, run_id, ending[0], ending[1], now)
            batch.write_batch(store, conn, rid, run_id, points, params, tags, now, prepared, touch=ending is None)

        store.write(unit)
        if ending is not None:
            self._ending.pop(run_id, None)  # set_terminated: the run was ended with its last values

    def flush(self) -> None:
        """Write every pending value of this client now."""
        self._buffer.flush()

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of a metric, by step then timestamp; exact values (NaN, ±inf) included."""
        self._buffer.flush(run_id)
        return reads.metric_history(self._store, run_id, key)

    # ----- artifacts and models ----------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
        from ..artifacts import repository

        repository.log_file(self._store, run_id, local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        from ..artifacts import repository

        repository.log_dir(self._store, run_id, local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        from ..artifacts import repository

        repository.log_bytes(self._store, run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Store a dict as JSON, or as YAML when the file name ends in .yaml/.yml."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            text = yaml.safe_dump(dict(dictionary), default_flow_style=False, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2)
        self.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str, **savefig_kwargs: Any) -> None:
        """Store a matplotlib figure (format from the file name, e.g. ``plots/loss.png``)."""
        import io

        if not hasattr(figure, "savefig"):
            raise InvalidParameter(f"log_figure needs a matplotlib Figure, not {type(figure).__name__}.")
        fmt = os.path.splitext(artifact_file)[1].lstrip(".") or "png"
        data = io.BytesIO()
        figure.savefig(data, format=fmt, **savefig_kwargs)
        from ..artifacts import repository

        repository.log_bytes(self._store, run_id, data.getvalue(), artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        from ..artifacts import repository

        return repository.list_artifacts(self._store, run_id, path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | os.PathLike | None = None) -> str:
        """Copy an artifact (file or folder; everything by default) to ``dst_path``; returns the local path."""
        from ..artifacts import repository

        return repository.download(self._store, run_id, path, dst_path)

    def load_text(self, run_id: str, path: str) -> str:
        from ..artifacts import repository

        return repository.read_bytes(self._store, run_id, path).decode("utf-8")

    def load_dict(self, run_id: str, path: str) -> dict:
        text = self.load_text(run_id, path)
        if path.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)

    def log_model(self, run_id: str, model: Any, name: str = "model") -> dict:
        """Pickle any object (cloudpickle) as a model; load it with ``load_model('runs:/<id>/<name>')``."""
        from ..artifacts import models

        meta = models.log_model(self._store, run_id, model, name)
        return {**meta, "model_uri": f"runs:/{run_id}/{meta['artifact_path']}"}

    def load_model(self, model_uri: str) -> Any:
        """Load a logged model after checking its digest. Unpickling runs code: trust the store."""
        from ..artifacts import models

        self._buffer.flush()
        return models.load_model(self._store, model_uri)

    # ----- search ------------------------------------------------------------------------
    def search_runs(self, experiment_ids: str | int | Sequence[str | int] | None = None, filter_string: str = "",
                    run_view_type: int = ACTIVE_ONLY, max_results: int | None = 1000,
                    order_by: Sequence[str] | None = None, page_token: str | None = None) -> PagedList[Run]:
        """Runs matching a filter, in order, one page at a time (``.token`` fetches the next page)."""
        from .search import search_runs

        self._buffer.flush()
        return search_runs(self._store, experiment_ids, filter_string, run_view_type, max_results,
                           order_by, page_token)

    def close(self) -> None:
        """Write pending values and release database connections."""
        try:
            self.flush()
        finally:
            self._store.close()


def _unique_params(params: Iterable[Param]) -> dict[str, str]:
    result: dict[str, str] = {}
    for param in params:
        value = batch.prepare_params({param.key: param.value})[param.key]
        if param.key in result and result[param.key] != value:
            raise InvalidParameter(f"Param {param.key!r} appears twice in one batch with different values.")
        result[param.key] = value
    return result
