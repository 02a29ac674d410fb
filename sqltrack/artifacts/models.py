"""Logging any Python object as a model (cloudpickle) and loading it back, digest-checked.

Loading a pickle runs code from the store: load models only from stores you trust.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from typing import Any

from .._version import __version__
from ..errors import ArtifactIntegrityError, InvalidParameter
from . import repository
from .paths import normalize_artifact_path

MODEL_FILE = "model.pkl"
META_FILE = "sqltrack_model.json"


def log_model(store, run_id: str, model: Any, name: str = "model") -> dict:
    """Pickle ``model`` under ``<name>/model.pkl`` with a metadata record; returns the metadata."""
    import cloudpickle

    folder = normalize_artifact_path(name, allow_root=False)
    try:
        data = cloudpickle.dumps(model)
    except Exception as error:  # cloudpickle raises many types for unpicklable objects
        raise InvalidParameter(
            f"Cannot pickle the model {type(model).__name__!r}: {error}"
        ) from error
    meta = {
        "format": "cloudpickle",
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "python_version": platform.python_version(),
        "cloudpickle_version": cloudpickle.__version__,
        "sqltrack_version": __version__,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "created_time": int(time.time() * 1000),
        "artifact_path": folder,
        "run_id": run_id,
    }
    repository.log_bytes(store, run_id, data, f"{folder}/{MODEL_FILE}")
    repository.log_bytes(
        store, run_id, json.dumps(meta, indent=2).encode(), f"{folder}/{META_FILE}"
    )
    return meta


def parse_model_uri(uri: str) -> tuple[str, str]:
    """Split ``runs:/<run_id>/<path>`` into (run_id, path)."""
    prefix = "runs:/"
    if not isinstance(uri, str) or not uri.startswith(prefix):
        raise InvalidParameter(
            f"Invalid model URI {uri!r}: use 'runs:/<run_id>/<model name>', e.g. 'runs:/abc123/model'."
        )
    run_id, _, path = uri[len(prefix) :].strip("/").partition("/")
    if not run_id or not path:
        raise InvalidParameter(
            f"Invalid model URI {uri!r}: it needs both a run id and a model name, "
            "as in 'runs:/<run_id>/model'."
        )
    return run_id, path


def load_model(store, uri: str) -> Any:
    """Load a model logged with log_model, after checking its digest. Runs pickled code: trust the store."""
    import cloudpickle

    run_id, path = parse_model_uri(uri)
    folder = normalize_artifact_path(path, allow_root=False)
    meta = json.loads(repository.read_bytes(store, run_id, f"{folder}/{META_FILE}"))
    data = repository.read_bytes(store, run_id, f"{folder}/{MODEL_FILE}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != meta.get("sha256"):
        raise ArtifactIntegrityError(
            f"Model {uri!r}: model.pkl has SHA-256 {actual}, but its metadata says {meta.get('sha256')}. "
            "The model was replaced or tampered with; it was not loaded."
        )
    return cloudpickle.loads(data)
