"""What readers of mlruns trees and MLflow databases produce, before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ImportFailure
from ..store.bulk import ExperimentContent, RunContent
from ..store.validation import validate_key

#: MLflow's RunStatus proto values, as written in run meta.yaml files.
STATUS_BY_CODE = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
CODE_BY_STATUS = {v: k for k, v in STATUS_BY_CODE.items()}
#: MLflow's SourceType values (legacy run meta field ``source_type``).
SOURCE_BY_CODE = {1: "NOTEBOOK", 2: "JOB", 3: "PROJECT", 4: "LOCAL", 1000: "UNKNOWN"}
CODE_BY_SOURCE = {v: k for k, v in SOURCE_BY_CODE.items()}
#: What MLflow accepts in metric, param and tag keys (``validate_param_and_metric_name``).
_MLFLOW_KEY = re.compile(r"^[/\w.\- :]*$")


@dataclass
class ArtifactSource:
    """One artifact file found for a run: where it is and what it hashed to."""

    path: str  # logical path inside the run
    source: str  # the local file
    digest: str
    size: int
    created_time: int  # ms, from the file's mtime
    new: bool = False  # its bytes were not in the blob store yet


@dataclass
class RunRecord:
    """A run read from the source, ready to be planned and written."""

    content: RunContent
    where: str  # the run's folder (or 'mlflow.db run <id>') for messages
    files: list[ArtifactSource] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExperimentRecord:
    """An experiment read from the source."""

    content: ExperimentContent
    where: str
    warnings: list[str] = field(default_factory=list)


def check_key(key: str, what: str, where: str) -> str:
    """Refuse keys that MLflow or sqltrack would not accept, naming the file that holds them."""
    if not _MLFLOW_KEY.match(key):
        bad = sorted({c for c in key if not _MLFLOW_KEY.match(c)})
        raise ImportFailure(f"{where}: the {what} key {key!r} has characters MLflow does not allow "
                            f"({''.join(bad)!r}); keys use letters, digits, '_', '-', '.', ' ', ':' and '/'.")
    try:
        return validate_key(key, what)
    except ValueError as error:
        raise ImportFailure(f"{where}: {error}") from None


def mlflow_key_problem(key: str) -> str | None:
    """Why MLflow could not read this key back from an mlruns tree, or None."""
    if not _MLFLOW_KEY.match(key):
        return "has characters MLflow does not allow in keys"
    return None


def status_from(value: object, where: str) -> str:
    """A run status from meta.yaml: MLflow's integer code, or its name."""
    if value is None:
        return "RUNNING"
    if isinstance(value, int) and value in STATUS_BY_CODE:
        return STATUS_BY_CODE[value]
    if isinstance(value, str) and value.upper() in CODE_BY_STATUS:
        return value.upper()
    raise ImportFailure(f"{where}: unknown run status {value!r}; MLflow writes 1-5 "
                        "(RUNNING, SCHEDULED, FINISHED, FAILED, KILLED).")


def source_type_from(value: object) -> str | None:
    """The legacy ``source_type`` field as a name (LOCAL, NOTEBOOK, ...)."""
    if isinstance(value, int):
        return SOURCE_BY_CODE.get(value, "UNKNOWN")
    if isinstance(value, str) and value:
        return value.upper()
    return None
