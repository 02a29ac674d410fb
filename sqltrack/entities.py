"""Plain, MLflow-shaped records that the API returns. They know nothing of storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Mapping, NamedTuple


class ViewType(IntEnum):
    """Which runs or experiments a search sees, by lifecycle stage (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3


ACTIVE_ONLY = ViewType.ACTIVE_ONLY
DELETED_ONLY = ViewType.DELETED_ONLY
ALL = ViewType.ALL

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")


class LifecycleStage:
    """The two lifecycle stages of runs and experiments."""

    ACTIVE = "active"
    DELETED = "deleted"


class Metric(NamedTuple):
    """One point of a metric's history (a named tuple: a million of them build fast)."""

    key: str
    value: float
    timestamp: int
    step: int = 0


@dataclass(frozen=True, slots=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunTag:
    key: str
    value: str


class RunInfo(NamedTuple):
    """Attributes of a run, named as in MLflow (``run_uuid`` is an alias of ``run_id``).

    Run records are named tuples, as ``Metric`` is: immutable like a frozen dataclass, but
    built in a fifth of the time (a search returning 1,000 runs builds 3,000 of them).
    """

    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str | None
    lifecycle_stage: str

    @property
    def run_uuid(self) -> str:
        return self.run_id


class RunData(NamedTuple):
    """The latest value of each metric, and the params and tags, of one run."""

    metrics: Mapping[str, float]
    params: Mapping[str, str]
    tags: Mapping[str, str]


class Run(NamedTuple):
    info: RunInfo
    data: RunData


@dataclass(frozen=True, slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    tags: Mapping[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One entry of an artifact listing: a file (with size) or a directory."""

    path: str
    is_dir: bool
    file_size: int | None
