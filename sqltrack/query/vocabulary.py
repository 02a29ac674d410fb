"""What the names in a filter mean: entity prefixes, attribute keys and their types.

One ``Vocabulary`` per searchable entity (runs, experiments), so the same grammar and
resolver serve both searches. Types: ``number``, ``string``, ``param`` (a string that
compares as a number against a number) and ``id`` (experiment ids: integers that MLflow
writes as quoted strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Vocabulary:
    """The prefixes and attribute keys one search accepts."""

    entity: str                                   # "run" or "experiment", for messages
    prefixes: Mapping[str, str]                   # prefix as written -> canonical kind
    attributes: Mapping[str, tuple[str, str]]     # key as written -> (canonical key, type)
    kind_types: Mapping[str, str]                 # non-attribute kind -> type
    not_searchable: Mapping[str, str] = field(default_factory=dict)  # key -> hint
    dataset_keys: tuple[str, ...] = ()
    unorderable: tuple[str, ...] = ()             # kinds that cannot be ordered by
    preferred: tuple[str, ...] = ()               # the prefixes to suggest, one per kind

    def attribute_names(self) -> list[str]:
        """The canonical attribute keys, for messages."""
        return list(dict.fromkeys(canonical for canonical, _type in self.attributes.values()))


RUN_VOCABULARY = Vocabulary(
    entity="run",
    prefixes={
        "metric": "metric", "metrics": "metric",
        "param": "param", "params": "param", "parameter": "param", "parameters": "param",
        "tag": "tag", "tags": "tag",
        "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
        "dataset": "dataset", "datasets": "dataset",
    },
    attributes={
        "run_id": ("run_id", "string"),
        "run_name": ("run_name", "string"),
        "run name": ("run_name", "string"),
        "Run name": ("run_name", "string"),
        "Run Name": ("run_name", "string"),
        "user_id": ("user_id", "string"),
        "status": ("status", "string"),
        "artifact_uri": ("artifact_uri", "string"),
        "start_time": ("start_time", "number"),
        "created": ("start_time", "number"),
        "Created": ("start_time", "number"),
        "end_time": ("end_time", "number"),
    },
    kind_types={"metric": "number", "param": "param", "tag": "string", "dataset": "string"},
    not_searchable={
        "experiment_id": "runs are scoped by the experiment_ids argument",
        "lifecycle_stage": "deleted runs are chosen by the run_view_type argument",
        "run_uuid": "use run_id",
    },
    dataset_keys=("name", "digest", "context"),
    unorderable=("dataset",),
    preferred=("metrics", "params", "tags", "attributes", "datasets"),
)

EXPERIMENT_VOCABULARY = Vocabulary(
    entity="experiment",
    prefixes={
        "attribute": "attribute", "attributes": "attribute", "attr": "attribute",
        "tag": "tag", "tags": "tag",
    },
    attributes={
        "name": ("name", "string"),
        "experiment_id": ("experiment_id", "id"),
        "creation_time": ("creation_time", "number"),
        "last_update_time": ("last_update_time", "number"),
    },
    kind_types={"tag": "string"},
    not_searchable={"lifecycle_stage": "deleted experiments are chosen by the view_type argument"},
    preferred=("tags", "attributes"),
)
