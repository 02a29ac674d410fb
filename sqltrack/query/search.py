"""Build the run search statement: scope, filter and order, ready for LIMIT/OFFSET.

On SQLite, which plans without statistics, the same search is also built in two other
shapes, and ``RunSearch.choose`` picks one when the search runs from a capped count of the
rows its driving clauses match (one index read, well under a millisecond; counted first up to
200 rows, which decides most selective searches at a tenth of the cost, and only when every
candidate reaches that, again up to ``DRIVER_PROBE_CAP``):

* **driven** (the clauses match fewer than ``DRIVER_PROBE_CAP`` rows): the scope is written
  with SQLite's unary ``+`` so its index is not used, and the matching ids lead; otherwise
  SQLite walks every run of the experiment and probes the id list for each. For an AND, each
  candidate clause is counted and the one with the fewest rows leads, without a probe of its
  own (one plan per candidate);
* **walked** (many rows match, and the order is the scope index's own, ``start_time DESC``
  within one experiment and stage): every clause is a correlated probe and SQLite walks the
  index backwards, stopping at the limit, instead of first materializing every matching id;
* otherwise the plain statement, the only one on PostgreSQL and MySQL.

All of them give the same rows in the same order (tests/query run every corpus case through each).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Select, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from ..entities import LifecycleStage, ViewType
from ..store import schema
from ..store.sqlite_path import select_rows
from . import ast
from .compiler import PROBE_CAPS, FilterCompiler, flatten_and
from .dialects import dialect_rules
from .order import attribute, build_ordering
from .parse import parse_filter, parse_order_by
from .sources import RunSources

#: Runs sort by these after the user's terms (MLflow: start_time DESC, then run id).
RUN_TIE_BREAKS = [(attribute("start_time"), True), (attribute("run_id"), False)]


@dataclass(frozen=True)
class RunSearch:
    """A compiled run search: the portable statement and, on SQLite, the plans to choose from.

    ``estimates`` pairs each of ``PROBE_CAPS`` with a SELECT of one count per driver candidate
    capped there, and ``driven`` holds one plan per candidate (that candidate leads, without
    its own probe).
    """

    statement: Select
    estimates: tuple[tuple[int, Select], ...] = ()
    driven: tuple[Select, ...] = ()
    walked: Select | None = None

    def choose(self, conn: Connection) -> Select:
        """The statement to run now (one or two capped counts on SQLite when the filter has a driving clause).

        A count below its cap is exact, so the smallest candidate found under the first cap is
        the one the larger cap would find.
        """
        for cap, estimate in self.estimates:
            counts = list(select_rows(conn, estimate)[0])
            smallest = min(counts)
            if smallest < cap:
                return self.driven[counts.index(smallest)]
        return self.walked if self.walked is not None else self.statement

    def plans(self) -> list[Select]:
        """Every statement this search may run (for tests: they must agree)."""
        return [s for s in (self.statement, *self.driven, self.walked) if s is not None]


def build_run_search(filter_string: str | None, order_by: list[str] | None,
                     experiment_ids: list[int], view_type: ViewType, dialect_name: str) -> Select:
    """SELECT runs.id ... WHERE <scope and filter> ORDER BY <order>, without LIMIT/OFFSET."""
    return compile_run_search(filter_string, order_by, experiment_ids, view_type, dialect_name).statement


def compile_run_search(filter_string: str | None, order_by: list[str] | None,
                       experiment_ids: list[int], view_type: ViewType, dialect_name: str) -> RunSearch:
    """The search's statement(s), without LIMIT/OFFSET; see the module docstring."""
    tree = parse_filter(filter_string)
    terms = parse_order_by(order_by)
    rules = dialect_rules(dialect_name)
    sources = RunSources()
    compiler = FilterCompiler(sources, rules)
    ordering = build_ordering(terms, sources, rules, defaults=[], tie_breaks=RUN_TIE_BREAKS)

    def statement(scope: ColumnElement, condition: ColumnElement) -> Select:
        return ordering.apply(select(schema.runs.c.id).where(scope & condition), schema.runs)

    scope, condition = run_scope(experiment_ids, view_type), compiler.compile(tree)
    plain = statement(scope, condition)
    if not rules.adaptive_driver or compiler.estimate(tree) is None:
        return RunSearch(plain)
    unindexed = run_scope(experiment_ids, view_type, unindexed=True)
    candidates = len(compiler.driver_candidates(flatten_and(tree))) if isinstance(tree, ast.And) else 0
    if candidates:
        driven = tuple(statement(unindexed, compiler.driven_by(tree, i)) for i in range(candidates))
    else:
        driven = (statement(unindexed, condition),)
    estimates = tuple((cap, _estimate(compiler, tree, cap, bool(candidates))) for cap in PROBE_CAPS)
    walks = not terms and len(experiment_ids) == 1 and ViewType(view_type) != ViewType.ALL
    walked = statement(scope, compiler.node(tree, drive=False)) if walks else None
    return RunSearch(plain, estimates, driven, walked)


def _estimate(compiler: FilterCompiler, tree: ast.Node, cap: int, per_candidate: bool) -> Select:
    """One count per driver candidate of the top-level AND, or the whole filter's one count."""
    if per_candidate:
        counts = compiler.candidate_counts(flatten_and(tree), cap)
        return select(*(count.label(f"c{i}") for i, count in enumerate(counts)))
    return select(compiler.estimate(tree, cap))


def run_scope(experiment_ids: list[int], view_type: ViewType, unindexed: bool = False) -> ColumnElement:
    """Runs of the given experiments in the lifecycle stages the view type shows.

    ``unindexed`` (SQLite only) writes the columns as ``+column``, which keeps SQLite from
    driving the search from the scope's index.
    """
    runs = schema.runs.c
    experiment, stage = runs.experiment_id, runs.lifecycle_stage
    if unindexed:
        experiment, stage = _unary_plus(experiment), _unary_plus(stage)
    ids = [int(experiment_id) for experiment_id in experiment_ids]
    return experiment.in_(ids) & lifecycle_condition(stage, view_type)


def _unary_plus(column: ColumnElement) -> ColumnElement:
    """SQLite's ``+column``: the same value, but not a column an index can serve."""
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def lifecycle_condition(column: ColumnElement, view_type: ViewType) -> ColumnElement:
    """``lifecycle_stage`` condition for ACTIVE_ONLY / DELETED_ONLY / ALL."""
    view_type = ViewType(view_type)
    if view_type == ViewType.ACTIVE_ONLY:
        return column == LifecycleStage.ACTIVE
    if view_type == ViewType.DELETED_ONLY:
        return column == LifecycleStage.DELETED
    return column.in_([LifecycleStage.ACTIVE, LifecycleStage.DELETED])
