"""``mlflow.sklearn``-style helpers: scikit-learn models are logged like any other object."""

from __future__ import annotations

from typing import Any


def log_model(sk_model: Any, artifact_path: str | None = None, name: str | None = None, **_ignored: Any) -> dict:
    """Log a fitted estimator or pipeline of the active run (cloudpickle)."""
    from .api.fluent import log_model as _log

    return _log(sk_model, name=name or artifact_path or "model")


def load_model(model_uri: str, **_ignored: Any) -> Any:
    """Load it back by ``runs:/<run_id>/<name>``, digest-checked. Unpickling runs code: trust the store."""
    from .api.fluent import load_model as _load

    return _load(model_uri)
