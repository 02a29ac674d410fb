"""sqltrack: experiment tracking in one SQLite file, with MLflow's API.

``import sqltrack`` is cheap: it loads SQLAlchemy, pandas and the rest only when a
function that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors  # noqa: F401
from ._version import __version__  # noqa: F401

_FLUENT = (
    "set_tracking_uri", "get_tracking_uri", "get_client", "create_experiment", "set_experiment", "get_experiment",
    "get_experiment_by_name", "delete_experiment", "restore_experiment", "search_experiments", "start_run",
    "active_run", "last_active_run", "end_run", "get_run", "delete_run", "restore_run", "log_param", "log_params",
    "log_metric", "log_metrics", "set_tag", "set_tags", "delete_tag", "log_batch", "flush", "log_artifact",
    "log_artifacts", "log_text", "log_dict", "log_figure", "get_artifact_uri", "download_artifacts", "load_text",
    "load_dict", "log_model", "load_model", "search_runs", "ActiveRun",
)
_ENTITIES = ("Experiment", "Run", "RunInfo", "RunData", "Metric", "Param", "RunTag", "FileInfo", "ViewType",
             "ACTIVE_ONLY", "DELETED_ONLY", "ALL")
_LAZY: dict[str, str] = {
    **{name: "sqltrack.api.fluent" for name in _FLUENT},
    **{name: "sqltrack.entities" for name in _ENTITIES},
    "Client": "sqltrack.api.client",
    "open_store": "sqltrack.store",
    "Store": "sqltrack.store",
    "sql": "sqltrack.query.sql",
    "import_mlruns": "sqltrack.mlruns",
    "export_mlruns": "sqltrack.mlruns",
    "import_mlflow_db": "sqltrack.mlruns",
}
_SUBMODULES = ("sklearn", "pyfunc", "entities", "errors", "cli")

__all__ = sorted([*_LAZY, "MlflowClient", "errors", "__version__", "sklearn", "pyfunc"])


def __getattr__(name: str) -> Any:
    if name == "MlflowClient":
        name = "Client"
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"sqltrack.{name}")
    raise AttributeError(f"module 'sqltrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
