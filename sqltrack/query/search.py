"""Build the run search statement: scope, filter and order, ready for LIMIT/OFFSET."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.sql.elements import ColumnElement

from ..entities import LifecycleStage, ViewType
from ..store import schema
from .compiler import FilterCompiler
from .dialects import dialect_rules
from .order import attribute, build_ordering
from .parse import parse_filter, parse_order_by
from .sources import RunSources

#: Runs sort by these after the user's terms (MLflow: start_time DESC, then run id).
RUN_TIE_BREAKS = [(attribute("start_time"), True), (attribute("run_id"), False)]


def build_run_search(filter_string: str | None, order_by: list[str] | None,
                     experiment_ids: list[int], view_type: ViewType, dialect_name: str) -> Select:
    """SELECT runs.id ... WHERE <scope and filter> ORDER BY <order>, without LIMIT/OFFSET."""
    tree = parse_filter(filter_string)
    terms = parse_order_by(order_by)
    rules = dialect_rules(dialect_name)
    sources = RunSources()
    where = run_scope(experiment_ids, view_type) & FilterCompiler(sources, rules).compile(tree)
    ordering = build_ordering(terms, sources, rules, defaults=[], tie_breaks=RUN_TIE_BREAKS)
    return ordering.apply(select(schema.runs.c.id).where(where), schema.runs)


def run_scope(experiment_ids: list[int], view_type: ViewType) -> ColumnElement:
    """Runs of the given experiments in the lifecycle stages the view type shows."""
    runs = schema.runs.c
    ids = [int(experiment_id) for experiment_id in experiment_ids]
    return runs.experiment_id.in_(ids) & lifecycle_condition(runs.lifecycle_stage, view_type)


def lifecycle_condition(column: ColumnElement, view_type: ViewType) -> ColumnElement:
    """``lifecycle_stage`` condition for ACTIVE_ONLY / DELETED_ONLY / ALL."""
    view_type = ViewType(view_type)
    if view_type == ViewType.ACTIVE_ONLY:
        return column == LifecycleStage.ACTIVE
    if view_type == ViewType.DELETED_ONLY:
        return column == LifecycleStage.DELETED
    return column.in_([LifecycleStage.ACTIVE, LifecycleStage.DELETED])
