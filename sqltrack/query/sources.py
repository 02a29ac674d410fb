"""Where each operand's value lives in the tables, for runs and for experiments.

A ``Source`` is either a column of the searched row (``runs.status``) or a column of a
keyed child row (``latest_metrics`` for ``metrics.acc``), with the conditions that pick
the row for the key. Keys are bound values compared with ``key_names.name`` (or
``experiment_tags.key``), never identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from ..store import schema
from ..store.values import NAN
from . import ast

RUN_NAME_TAG = "mlflow.runName"

_AGGREGATE_COLUMNS = {
    "min": "min_value", "max": "max_value", "avg": "avg_value", "first": "first_value", "count": "count",
}


@dataclass(frozen=True)
class Source:
    """One operand's value: a column, and for child rows the table, link and key conditions."""

    value: ColumnElement
    table: FromClause | None = None         # None: a column of the searched row itself
    link: ColumnElement | None = None       # the child row's id of the searched row
    conditions: tuple[ColumnElement, ...] = ()  # pick the key's row and require a value
    kind: ColumnElement | None = None       # metric kind column (NaN / ±inf), if any

    @property
    def nan(self) -> ColumnElement | None:
        return None if self.kind is None else self.kind == NAN

    @property
    def not_nan(self) -> ColumnElement | None:
        return None if self.kind is None else self.kind != NAN


def key_id(name: str) -> ColumnElement:
    """The id of a key name, as a scalar subquery on a bound name (NULL when unknown)."""
    return select(schema.key_names.c.id).where(schema.key_names.c.name == name).scalar_subquery()


def _keyed(table: Table, name: str, column: str, *, required: bool = False,
           kind: str | None = None) -> Source:
    alias = table.alias()
    conditions = [alias.c.key_id == key_id(name)]
    if required:
        conditions.append(alias.c[column].is_not(None))
    return Source(alias.c[column], alias, alias.c.run_id, tuple(conditions),
                  alias.c[kind] if kind else None)


class RunSources:
    """Sources of the fields of a run (``schema.runs`` and its keyed child tables)."""

    parent = schema.runs
    parent_id = schema.runs.c.id

    def source(self, operand: ast.Operand, for_order: bool = False) -> Source | None:
        """The source of an operand; None for dataset fields (this store keeps no datasets)."""
        if isinstance(operand, ast.Func):
            return self._function(operand)
        kind, key = operand.kind, operand.key
        if kind == "metric":
            return _keyed(schema.latest_metrics, key, "value", kind="kind")
        if kind == "param":
            return _keyed(schema.params, key, "value")
        if kind == "tag":
            return _keyed(schema.tags, key, "value")
        if kind == "dataset":
            return None
        return self._attribute(key, for_order)

    def _function(self, func: ast.Func) -> Source:
        key = func.arg.key
        if func.name == "number":
            return _keyed(schema.params, key, "value_num", required=True)
        if func.name == "first":
            return _keyed(schema.latest_metrics, key, "first_value", required=True, kind="first_kind")
        return _keyed(schema.latest_metrics, key, _AGGREGATE_COLUMNS[func.name], required=True)

    def _attribute(self, key: str, for_order: bool) -> Source:
        runs = schema.runs.c
        if key == "run_name":
            # MLflow filters run names on the mlflow.runName tag and orders them by runs.name.
            return Source(runs.name) if for_order else _keyed(schema.tags, RUN_NAME_TAG, "value")
        if key == "run_id":
            return Source(runs.run_uuid)
        return Source(runs[key])
