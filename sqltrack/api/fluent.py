"""The fluent, MLflow-named API: a current store, a current experiment and a stack of active runs.

``import sqltrack as mlflow`` runs MLflow tutorial code. Each function delegates to a
:class:`~sqltrack.api.client.Client`.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Sequence

from .._exit import at_exit
from ..entities import ACTIVE_ONLY, Experiment, Metric, Param, Run, RunTag
from ..errors import ExperimentAlreadyExists, InvalidParameter
from .client import Client
from .context import default_run_tags

_lock = threading.RLock()
_state: dict[str, Any] = {"uri": None, "client": None, "experiment_id": None}
_local = threading.local()
_all_active: list["ActiveRun"] = []


# ----- store and experiment --------------------------------------------------------------------
def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """Use another store (a SQLite path or a SQLAlchemy URL) from now on."""
    with _lock:
        if _state["client"] is not None:
            _state["client"].flush()
        _state.update(uri=None if uri is None else str(uri), client=None, experiment_id=None)


def get_tracking_uri() -> str:
    """The store in use: what was set, else the environment's, else ./sqltrack.db."""
    from ..config import resolve

    return _state["uri"] or resolve().url


def _client() -> Client:
    client = _state["client"]  # the common case takes no lock: logging calls this per value
    if client is not None:
        return client
    with _lock:
        if _state["client"] is None:
            _state["client"] = Client(_state["uri"])
        return _state["client"]


def get_client() -> Client:
    """The client behind the fluent API."""
    return _client()


def create_experiment(name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment current, creating it by name if needed (a deleted one must be restored first)."""
    client = _client()
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameter("set_experiment needs exactly one of experiment_name or experiment_id.")
    if experiment_id is not None:
        experiment = client.get_experiment(experiment_id)
    else:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            try:
                experiment = client.get_experiment(client.create_experiment(experiment_name))
            except ExperimentAlreadyExists:  # another process created it since we looked
                experiment = client.get_experiment_by_name(experiment_name)
    if experiment.lifecycle_stage != "active":
        raise InvalidParameter(f"Cannot make the deleted experiment {experiment.name!r} current; restore it with "
                               f"restore_experiment({experiment.experiment_id!r}) first.")
    _state["experiment_id"] = experiment.experiment_id
    return experiment


def _current_experiment_id() -> str:
    from ..config import experiment_from_env

    if _state["experiment_id"] is not None:
        return _state["experiment_id"]
    name, eid = experiment_from_env()
    if eid or name:
        return set_experiment(experiment_name=name, experiment_id=eid).experiment_id
    return "0"


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    _client().delete_experiment(experiment_id)


def restore_experiment(experiment_id: str) -> None:
    _client().restore_experiment(experiment_id)


def search_experiments(view_type: int = ACTIVE_ONLY, max_results: int | None = None,
                       filter_string: str | None = None, order_by: Sequence[str] | None = None) -> list[Experiment]:
    return list(_client().search_experiments(view_type, max_results, filter_string, order_by))


# ----- runs --------------------------------------------------------------------------------
class ActiveRun(Run):
    """A started run; as a context manager it ends the run (FAILED on an exception, KILLED on Ctrl-C)."""

    __slots__ = ()

    def __enter__(self) -> "ActiveRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _end(self, _status_for(exc_type))
        return False


def _stack() -> list[ActiveRun]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def start_run(run_id: str | None = None, experiment_id: str | None = None, run_name: str | None = None,
              nested: bool = False, tags: Mapping[str, Any] | None = None, description: str | None = None,
              parent_run_id: str | None = None, **_ignored: Any) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active; use it in a ``with`` block."""
    client, stack = _client(), _stack()
    if stack and not nested:
        raise InvalidParameter(
            f"Run {stack[-1].info.run_id} is already active. End it with end_run() first, or start a nested "
            "run with start_run(nested=True).")
    if run_id is not None:
        run = _resume(client, run_id)
    else:
        all_tags = {**default_run_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        parent = parent_run_id or (stack[-1].info.run_id if nested and stack else None)
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        if description:
            all_tags["mlflow.note.content"] = description
        run = client.create_run(experiment_id or _current_experiment_id(), tags=all_tags, run_name=run_name)
    active = ActiveRun(run.info, run.data)
    stack.append(active)
    with _lock:
        _all_active.append(active)
        _state["pid"] = os.getpid()
    _watch(client, active.info.run_id)
    return active


def _resume(client: Client, run_id: str) -> Run:
    run = client.get_run(run_id)
    if run.info.status != "RUNNING":
        client.update_run(run_id, status="RUNNING")
        run = client.get_run(run_id)
    client._buffer.remember_params(run_id, dict(run.data.params))
    return run


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    run_id = _state.get("last_run_id")
    return None if run_id is None else _client().get_run(run_id)


def end_run(status: str = "FINISHED") -> None:
    """End the active run (its pending values are written first)."""
    run = active_run()
    if run is not None:
        _end(run, status)


def _end(run: ActiveRun, status: str) -> None:
    stack = _stack()
    try:
        _client().set_terminated(run.info.run_id, status)
    finally:
        if run in stack:
            stack.remove(run)
        with _lock:
            if run in _all_active:
                _all_active.remove(run)
        _state["last_run_id"] = run.info.run_id
        _unwatch(run.info.run_id)


def _require_run() -> str:
    stack = getattr(_local, "stack", None)
    if not stack:
        return start_run().info.run_id  # MLflow starts a run implicitly
    return stack[-1].info.run_id


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def delete_run(run_id: str) -> None:
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _client().restore_run(run_id)


# ----- logging ------------------------------------------------------------------------------
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    return _client().log_param(_require_run(), key, value, synchronous)


def log_params(params: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Log several params as one call: all are checked first, and a reader sees all of them or none."""
    from ..store.batch import prepare_params

    run_id, client = _require_run(), _client()
    client._buffer.add_many(run_id, params=prepare_params(dict(params)))
    client._maybe_sync(run_id, synchronous)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None,
               synchronous: bool | None = None, **_ignored: Any) -> None:
    """Log one point of a metric; see ``sqltrack.api.buffer`` for when it is durable."""
    _client().log_metric(_require_run(), key, value, timestamp, step, synchronous)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None,
                synchronous: bool | None = None, **_ignored: Any) -> None:
    """Log several metrics at one step as one call: a reader sees all of them or none."""
    from ..store.batch import make_point
    from .client import _now_ms

    run_id, client = _require_run(), _client()
    stamp, step = _now_ms() if timestamp is None else timestamp, step or 0
    client._buffer.add_many(run_id, points=[make_point(k, v, stamp, step) for k, v in metrics.items()])
    client._maybe_sync(run_id, synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> None:
    _client().set_tag(_require_run(), key, value, synchronous)


def set_tags(tags: Mapping[str, Any], synchronous: bool | None = None) -> None:
    """Set several tags as one call: all are checked first, and a reader sees all of them or none."""
    from ..store.batch import prepare_tags

    run_id, client = _require_run(), _client()
    client._buffer.add_many(run_id, tags=prepare_tags(dict(tags)))
    client._maybe_sync(run_id, synchronous)


def delete_tag(key: str) -> None:
    _client().delete_tag(_require_run(), key)


def flush() -> None:
    """Write every pending logged value now."""
    if _state["client"] is not None:
        _state["client"].flush()


def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
    _client().log_artifact(_require_run(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
    _client().log_artifacts(_require_run(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _client().log_text(_require_run(), text, artifact_file)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str) -> None:
    _client().log_dict(_require_run(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, **kwargs: Any) -> None:
    _client().log_figure(_require_run(), figure, artifact_file, **kwargs)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run_id = _require_run()
    return f"runs:/{run_id}/{artifact_path}" if artifact_path else f"runs:/{run_id}"


def log_model(model: Any, name: str | None = None, artifact_path: str | None = None, **_ignored: Any) -> dict:
    """Store any Python object as a model of the active run; returns info with ``model_uri``."""
    return _client().log_model(_require_run(), model, name or artifact_path or "model")


def load_model(model_uri: str, **_ignored: Any) -> Any:
    """Load a model by ``runs:/<run_id>/<name>``. Unpickling runs code: load only from trusted stores."""
    return _client().load_model(model_uri)


def _split_uri(uri: str) -> tuple[str, str]:
    from ..artifacts.models import parse_model_uri

    return parse_model_uri(uri)


def load_text(artifact_uri: str) -> str:
    """The text of an artifact given as ``runs:/<run_id>/<path>``."""
    return _client().load_text(*_split_uri(artifact_uri))


def load_dict(artifact_uri: str) -> dict:
    return _client().load_dict(*_split_uri(artifact_uri))


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None, artifact_path: str = "",
                       dst_path: str | os.PathLike | None = None) -> str:
    if artifact_uri is not None:
        run_id, artifact_path = _split_uri(artifact_uri + ("" if "/" in artifact_uri[6:] else "/"))
    if run_id is None:
        raise InvalidParameter("download_artifacts needs artifact_uri='runs:/<run_id>/<path>' or run_id=.")
    return _client().download_artifacts(run_id, artifact_path, dst_path)


# ----- search -------------------------------------------------------------------------------
def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str = "",
                run_view_type: int = ACTIVE_ONLY, max_results: int = 100_000, order_by: Sequence[str] | None = None,
                output_format: str = "pandas", search_all_experiments: bool = False,
                experiment_names: Sequence[str] | None = None):
    """Runs as a pandas DataFrame shaped like MLflow's (or a list of Run with output_format='list')."""
    client = _client()
    ids = _search_experiment_ids(client, experiment_ids, search_all_experiments, experiment_names)
    if output_format == "pandas":  # the same pages, loaded as columns: no Run object per run
        from .search import search_runs_frame

        client.flush()
        return search_runs_frame(client.store, ids, filter_string, run_view_type, max_results, order_by)
    found: list[Run] = []
    token = None
    while True:
        page_size = min(10_000, max_results - len(found))
        page = client.search_runs(ids, filter_string, run_view_type, page_size, order_by, token)
        found.extend(page)
        token = page.token
        if not token or len(found) >= max_results:
            break
    if output_format == "list":
        return found
    raise InvalidParameter(f"output_format must be 'pandas' or 'list', not {output_format!r}.")


def _search_experiment_ids(client: Client, experiment_ids, search_all: bool, names) -> list[str] | None:
    if experiment_ids and names:
        raise InvalidParameter("Give experiment_ids or experiment_names, not both.")
    if names:
        ids = []
        for name in names:
            experiment = client.get_experiment_by_name(name)
            if experiment is not None:
                ids.append(experiment.experiment_id)
        return ids
    if experiment_ids:
        return [experiment_ids] if isinstance(experiment_ids, (str, int)) else list(experiment_ids)
    return None if search_all else [_current_experiment_id()]


def log_batch(metrics: Sequence[Metric] = (), params: Sequence[Param] = (), tags: Sequence[RunTag] = ()) -> None:
    _client().log_batch(_require_run(), metrics, params, tags)


# ----- process exit, crashes and signals ----------------------------------------------------
def _status_for(exc_type) -> str:
    """FINISHED without an exception, KILLED for Ctrl-C, FAILED for anything else."""
    if exc_type is None:
        return "FINISHED"
    if issubclass(exc_type, KeyboardInterrupt):
        return "KILLED"
    return "FAILED"


def _end_all(status: str) -> None:
    """End every run this process still has active (pending values first); never raises."""
    if _state.get("pid") != os.getpid():
        return  # a forked child: the runs and their pending values belong to the parent
    for run in list(reversed(_all_active)):
        try:
            _end(run, status)
        except Exception:  # noqa: BLE001 - the process is ending; 'sqltrack runs mark-dead' is the fallback
            pass
    try:
        flush()
    except Exception:  # noqa: BLE001
        pass


def _at_exit() -> None:
    """Write pending values and end runs still active when the interpreter exits normally."""
    _end_all("KILLED" if _state.get("terminating") else "FINISHED")


at_exit(_at_exit, priority=30)
# A forked child starts with none of the parent's runs to end: only those it starts itself.
os.register_at_fork(after_in_child=_all_active.clear)


def _watch(client: Client, run_id: str) -> None:
    """Heartbeat for the run; on the first run, hooks for uncaught exceptions and SIGTERM."""
    from ..store.liveness import HEARTBEAT

    HEARTBEAT.add(client.store, run_id)
    with _lock:
        if not _state.get("hooks"):
            _state["hooks"] = True
            _install_excepthook()
            _install_sigterm_handler()


def _unwatch(run_id: str) -> None:
    import sys

    liveness = sys.modules.get("sqltrack.store.liveness")
    if liveness is not None:
        liveness.HEARTBEAT.remove(run_id)


def _install_excepthook() -> None:
    """An uncaught exception at top level ends active runs FAILED (Ctrl-C: KILLED), chaining the old hook."""
    import sys

    previous = sys.excepthook

    def excepthook(exc_type, exc, tb) -> None:
        _end_all(_status_for(exc_type))
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook


def _install_sigterm_handler() -> None:
    """On SIGTERM: end active runs KILLED (pending values first), then die of SIGTERM as before.

    Installed only from the main thread and only when SIGTERM has its default action, so a
    program's (or a framework's) own handler is never replaced. The handler itself only wakes
    a waiting thread and returns: whatever the main thread was doing (perhaps holding the
    store's write lock) goes on undisturbed, no exception is raised into it, and the thread
    ends the runs, then re-sends SIGTERM with its default action. A second SIGTERM kills at once.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    wake = threading.Event()
    _state["sigterm"] = (wake, os.getpid())  # a forked child has no such thread: it dies as usual
    threading.Thread(target=_end_runs_then_die, args=(wake,), name="sqltrack-sigterm", daemon=True).start()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame) -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    wake, owner = _state.get("sigterm") or (None, None)
    if owner != os.getpid() or _state.get("pid") != os.getpid() or not _all_active:
        os.kill(os.getpid(), signal.SIGTERM)  # nothing of ours to end (or a forked child): die as usual
        return
    _state["terminating"] = True
    wake.set()


def _end_runs_then_die(wake) -> None:
    import signal
    import sys

    wake.wait()
    _end_all("KILLED")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    os.kill(os.getpid(), signal.SIGTERM)  # the default action again: the exit status says SIGTERM
