"""Build the experiment search statement (MLflow's search_experiments language, plus ours).

MLflow accepts ``name``, ``experiment_id``, ``creation_time``, ``last_update_time`` and
``tags.<key>`` with AND only; we also accept OR/NOT/parentheses, IN and IS [NOT] NULL on
every field, the ``attributes.``/``attr.`` prefixes, and ordering by tags.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from ..entities import ViewType
from ..store import schema
from . import ast
from .compiler import FilterCompiler
from .dialects import dialect_rules
from .order import attribute, build_ordering
from .parse import parse_filter_for, parse_order_by_for
from .search import lifecycle_condition
from .sources import Source

#: MLflow's default order, and the tie-break it appends when experiment_id is not ordered on.
EXPERIMENT_DEFAULT_ORDER = [(attribute("creation_time"), True), (attribute("experiment_id"), False)]
EXPERIMENT_TIE_BREAKS = [(attribute("experiment_id"), True)]


class ExperimentSources:
    """Sources of the fields of an experiment: its columns and its tags (keyed by name)."""

    parent = schema.experiments
    parent_id = schema.experiments.c.experiment_id

    def source(self, operand: ast.Operand, for_order: bool = False) -> Source:
        """The column an experiment attribute or tag is read from."""
        if operand.kind == "tag":
            alias = schema.experiment_tags.alias()
            return Source(alias.c.value, alias, alias.c.experiment_id, (alias.c.key == operand.key,))
        return Source(schema.experiments.c[operand.key])


def build_experiment_search(filter_string: str | None, order_by: list[str] | None,
                            view_type: ViewType, dialect_name: str) -> Select:
    """SELECT experiments.experiment_id WHERE <stage and filter> ORDER BY <order>, without LIMIT/OFFSET."""
    tree = parse_filter_for(filter_string, "experiment")
    terms = parse_order_by_for(order_by, "experiment")
    rules = dialect_rules(dialect_name)
    sources = ExperimentSources()
    where = lifecycle_condition(schema.experiments.c.lifecycle_stage, view_type)
    where = where & FilterCompiler(sources, rules).compile(tree)
    ordering = build_ordering(terms, sources, rules, defaults=EXPERIMENT_DEFAULT_ORDER,
                              tie_breaks=EXPERIMENT_TIE_BREAKS)
    query = select(schema.experiments.c.experiment_id).where(where)
    return ordering.apply(query, schema.experiments)
