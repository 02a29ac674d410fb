"""A small pure-Python evaluator of resolved filter and order_by trees: the meaning we test SQL against.

It reads plain ``RunSpec`` records (see store_builder) and states the semantics directly:
a missing value never satisfies a comparison; NaN compares as in IEEE; LIKE is
case-sensitive with ``%``/``_`` wildcards and no escape; ILIKE folds ASCII case; ordering
puts NaN after numbers and missing values last in both directions, then start_time DESC
and run_id ASC.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field

from sqltrack.query import ast
from sqltrack.store.values import param_number

RUN_NAME_TAG = "mlflow.runName"
_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass
class RunSpec:
    """One run of a test store, as plain data (``label`` is runs.name and names the run in tests)."""

    label: str
    uuid: str
    experiment_id: int = 1
    status: str = "FINISHED"
    start_time: int | None = None
    end_time: int | None = None
    user_id: str | None = None
    artifact_uri: str | None = None
    lifecycle_stage: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[tuple[int, int, float]]] = field(default_factory=dict)  # (step, ts, value)


def _latest_key(point: tuple[int, int, float]) -> tuple:
    step, timestamp, value = point
    return (step, timestamp, 0.0 if value != value else value)


def summarize(history: list[tuple[int, int, float]]) -> dict:
    """The latest point and the aggregates of a metric history (NaN left out of min/max/avg)."""
    latest = max(history, key=_latest_key)
    first = min(history, key=_latest_key)
    finite = [v for _s, _t, v in history if v == v]
    avg = sum(finite) / len(finite) if finite else None
    return {
        "latest": latest, "first": first, "count": len(history), "nan_count": len(history) - len(finite),
        "min": min(finite) if finite else None, "max": max(finite) if finite else None,
        "sum": sum(finite) if finite else None,
        "avg": None if avg is None or avg != avg else avg,
    }


def value_of(operand: ast.Operand, run: RunSpec):
    """The run's value for an operand, or None when it has none."""
    if isinstance(operand, ast.Func):
        return _function_value(operand, run)
    kind, key = operand.kind, operand.key
    if kind == "metric":
        history = run.metrics.get(key)
        return summarize(history)["latest"][2] if history else None
    if kind == "param":
        return run.params.get(key)
    if kind == "tag":
        return run.tags.get(key)
    if kind == "dataset":
        return None
    return _attribute(key, run, for_order=False)


def _function_value(func: ast.Func, run: RunSpec):
    key = func.arg.key
    if func.name == "number":
        text = run.params.get(key)
        return None if text is None else param_number(text)
    history = run.metrics.get(key)
    if not history:
        return None
    summary = summarize(history)
    if func.name == "first":
        return summary["first"][2]
    return summary[func.name]


def _attribute(key: str, run: RunSpec, for_order: bool):
    if key == "run_name":
        return run.label if for_order else run.tags.get(RUN_NAME_TAG)
    if key == "run_id":
        return run.uuid
    return getattr(run, key)


def like(value: str, pattern: str, fold: bool = False) -> bool:
    """SQL LIKE without an escape character; ``fold`` lower-cases ASCII letters on both sides."""
    if fold:
        value, pattern = value.translate(_ASCII_LOWER), pattern.translate(_ASCII_LOWER)
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _compare(left, op: str, right) -> bool:
    if left is None or right is None:
        return False
    if op == "LIKE":
        return like(left, right)
    if op == "ILIKE":
        return like(left, right, fold=True)
    return _OPS[op](left, right)


def matches(node: ast.Node | None, run: RunSpec) -> bool:
    """Whether a run satisfies a resolved filter tree (None matches everything)."""
    if node is None:
        return True
    if isinstance(node, ast.And):
        return all(matches(item, run) for item in node.items)
    if isinstance(node, ast.Or):
        return any(matches(item, run) for item in node.items)
    if isinstance(node, ast.Not):
        return not matches(node.item, run)
    if isinstance(node, ast.IsNull):
        return (value_of(node.operand, run) is not None) == node.negated
    if isinstance(node, ast.InList):
        value = value_of(node.operand, run)
        if value is None:
            return False
        found = any(value == v.value for v in node.values)
        return not found if node.negated else found
    left = value_of(node.left, run)
    if isinstance(node.right, (ast.Number, ast.String)):
        return _compare(left, node.op, node.right.value)
    return _compare(left, node.op, value_of(node.right, run))


def _order_value(operand: ast.Operand, run: RunSpec):
    if isinstance(operand, ast.Field) and operand.kind == "attribute":
        return _attribute(operand.key, run, for_order=True)
    return value_of(operand, run)


def _rank(value) -> int:
    if value is None:
        return 2
    if isinstance(value, float) and math.isnan(value):
        return 1
    return 0


def order(runs: list[RunSpec], terms: list[ast.OrderTerm]) -> list[RunSpec]:
    """Sort runs by the terms, missing last and NaN just before, then start_time DESC, run_id ASC."""
    keys = [(t.operand, t.descending) for t in terms]
    seen = {ast.operand_identity(op) for op, _ in keys}
    for key, desc in (("start_time", True), ("run_id", False)):
        field_ = ast.Field("attributes", key, ast.Span(0, 0), kind="attribute")
        if ast.operand_identity(field_) not in seen:
            keys.append((field_, desc))
    result = list(runs)
    for operand, descending in reversed(keys):
        values = {id(r): _order_value(operand, r) for r in result}
        filler = "" if any(isinstance(v, str) for v in values.values()) else 0.0
        result.sort(key=lambda r: filler if _rank(values[id(r)]) else values[id(r)], reverse=descending)
        result.sort(key=lambda r: _rank(values[id(r)]))
    return result


def search(runs: list[RunSpec], node: ast.Node | None, terms: list[ast.OrderTerm],
           experiment_ids=(1,), stages=("active",)) -> list[RunSpec]:
    """The runs a search selects, in order."""
    scoped = [r for r in runs if r.experiment_id in experiment_ids and r.lifecycle_stage in stages]
    return order([r for r in scoped if matches(node, r)], terms)
