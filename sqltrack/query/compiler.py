"""Compile a resolved filter AST into one SQLAlchemy Core boolean over the searched table.

Semantics (the same as ``tests/query/reference.py``):

* a row without the key never satisfies a comparison, ``!=`` and ``NOT IN`` included;
  ``NOT`` is plain two-valued negation, so ``NOT params.a = 'x'`` keeps runs without ``a``;
* NaN compares as in IEEE (only ``!=`` is true); NaN is stored as 0 with ``kind = NAN``;
* ``X IS NULL`` is true when the run has no value for X;
* dataset fields never match (this store records no datasets).

Shapes. A comparison on a keyed value (metric, param, tag) has two equivalent forms:

* **driver**: ``runs.id IN (SELECT run_id FROM <child> WHERE key_id = (SELECT id FROM
  key_names WHERE name = :key) AND <predicate>)``; uncorrelated, read once from the
  ``(key_id, value)`` index, and SQLite can drive the search from it;
* **probe**: ``EXISTS (SELECT ... WHERE run_id = runs.id AND key_id = ... AND ...)``; one
  primary-key lookup per candidate run, nothing materialized.

Where the dialect plans semi-joins from statistics (PostgreSQL, MySQL) every clause is a
driver. SQLite has no histograms and would materialize every non-driving IN list in full,
so there (``adaptive_driver``) an AND with several keyed clauses gets every clause as a
probe plus ONE driver chosen at run time: each candidate's matching rows are counted up
to ``DRIVER_PROBE_CAP`` in scalar subqueries, and a ``LIMIT CASE ... THEN -1 ELSE 0``
switches on only the branch of the smallest one (SQLite evaluates a LIMIT before its loop).
A run search's top-level AND is chosen in Python instead (``query.search.RunSearch``): the
counts are read first, and the winner leads without its own probe (``driven_by``).
"""

from __future__ import annotations

import operator
from dataclasses import replace
from typing import Protocol

from sqlalchemy import and_, case, false, func, literal, not_, or_, select, true, tuple_, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from . import ast
from .dialects import DialectRules, infinity_rank, literal_rank
from .sources import Source

#: Rows counted per candidate when choosing the driving clause of an AND (SQLite).
DRIVER_PROBE_CAP = 2000
#: The caps a search's plan choice counts to, in turn (``query.search.RunSearch.choose``): a
#: count below the first decides as the full one would, at a tenth of its cost.
PROBE_CAPS = (200, DRIVER_PROBE_CAP)
#: At most this many clauses of one AND compete to drive.
MAX_DRIVER_CANDIDATES = 3

_OPERATORS = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


class Sources(Protocol):
    """Maps operands to where their values live (see ``sources.RunSources``)."""

    parent_id: ColumnElement

    def source(self, operand: ast.Operand, for_order: bool = False) -> Source | None: ...


class FilterCompiler:
    """Compiles resolved filter trees for one kind of searched row and one dialect."""

    def __init__(self, sources: Sources, rules: DialectRules) -> None:
        self.sources = sources
        self.rules = rules

    def compile(self, node: ast.Node | None) -> ColumnElement:
        """The WHERE condition for a tree (``true()`` for no filter)."""
        return true() if node is None else self.node(node, drive=True)

    def node(self, node: ast.Node, drive: bool) -> ColumnElement:
        """Compile one node; ``drive`` says whether it may be written as a driver."""
        drive = drive or not self.rules.adaptive_driver
        if isinstance(node, ast.And):
            return self.conjunction(node, drive)
        if isinstance(node, ast.Or):
            return or_(*(self.node(item, drive) for item in node.items))
        if isinstance(node, ast.Not):
            return not_(self.node(node.item, drive=False))
        shape = self.leaf(node)
        return shape.driver() if drive else shape.probe()

    def conjunction(self, node: ast.And, drive: bool) -> ColumnElement:
        """AND: on SQLite, probes for every keyed clause plus one adaptive driver."""
        if not drive or not self.rules.adaptive_driver:
            return and_(*(self.node(item, drive) for item in node.items))
        items = flatten_and(node)
        candidates = self.driver_candidates(items)
        if not candidates:
            first_or = _first_or(items)
            return and_(*(self.node(item, drive=item is first_or) for item in items))
        parts = [self.node(item, drive=False) for item in items]
        if len(candidates) == 1:
            return and_(candidates[0][1].driver(), *parts)
        return and_(self.adaptive_driver([shape for _, shape in candidates]), *parts)

    def driven_by(self, node: ast.And, choice: int) -> ColumnElement:
        """AND with its ``choice``-th driver candidate as the driver, and no probe of that clause.

        The driver's rows are exactly the runs its probe would accept, so the probe is left
        out: one B-tree search fewer for every driving row (SQLite; ``RunSearch.choose``).
        """
        items = flatten_and(node)
        chosen, shape = self.driver_candidates(items)[choice]
        return and_(shape.driver(), *(self.node(item, drive=False) for item in items if item is not chosen))

    def estimate(self, node: ast.Node | None, cap: int = DRIVER_PROBE_CAP) -> ColumnElement | None:
        """Rows of the clauses that would drive the search, counted up to ``cap`` each.

        None when nothing can drive it (no filter, a NOT, an OR with a clause on the run's own
        columns). Used on SQLite to choose a plan when the search runs (``query.search``).
        """
        if node is None or isinstance(node, ast.Not):
            return None
        if isinstance(node, ast.Or):
            counts = [self.estimate(item, cap) for item in node.items]
            return None if any(c is None for c in counts) else sum(counts[1:], counts[0])
        if isinstance(node, ast.And):
            items = flatten_and(node)
            counts = self.candidate_counts(items, cap)
            if not counts:
                return self.estimate(_first_or(items), cap)  # the OR that drives, as in conjunction()
            return counts[0] if len(counts) == 1 else func.min(*counts)
        shape = self.leaf(node)
        return _capped_count(shape, cap) if shape.can_drive else None

    def candidate_counts(self, items: list[ast.Node], cap: int = DRIVER_PROBE_CAP) -> list[ColumnElement]:
        """The row count of each driver candidate of an AND's terms, capped at ``cap``, in candidate order."""
        return [_capped_count(shape, cap) for _, shape in self.driver_candidates(items)]

    def driver_candidates(self, items: list[ast.Node]) -> list[tuple[ast.Node, LeafShape]]:
        """The clauses of an AND that may drive it, with their shapes, most promising first."""
        leaves = [(item, self.leaf(item)) for item in items if not isinstance(item, (ast.Or, ast.Not))]
        return sorted(((i, s) for i, s in leaves if s.can_drive), key=lambda pair: pair[1].rank)[:MAX_DRIVER_CANDIDATES]

    def adaptive_driver(self, candidates: list[LeafShape]) -> ColumnElement:
        """``id IN (<rows of the candidate with the fewest matches>)``, chosen when the query runs."""
        counts = [_capped_count(c) for c in candidates]
        estimates = select(*(count.label(f"c{i}") for i, count in enumerate(counts))).subquery()
        columns = list(estimates.c)
        first_smallest = case(*((and_(*(c <= other for other in columns if other is not c)), i)
                                for i, c in enumerate(columns)), else_=0)
        # One row, read by every branch: materialized so the counts run once. Unnamed: SQLAlchemy
        # gives each its own name, and an OR of two ANDs has two of them in one statement.
        choice = select(first_smallest.label("winner")).select_from(estimates).cte()
        choice = choice.prefix_with("MATERIALIZED")
        winner = select(choice.c.winner).scalar_subquery()
        branches = []
        for i, candidate in enumerate(candidates):
            rows = candidate.rows.limit(case((winner == i, -1), else_=0)).subquery()
            branches.append(select(rows.c[0]))
        return self.sources.parent_id.in_(union_all(*branches))

    # -- leaves -----------------------------------------------------------------------

    def leaf(self, node: ast.Node) -> LeafShape:
        """The shape of a comparison, IN list or IS [NOT] NULL."""
        if isinstance(node, ast.IsNull):
            return self.is_null(node)
        if isinstance(node, ast.InList):
            return self.in_list(node)
        return self.compare(node)

    def compare(self, node: ast.Compare) -> LeafShape:
        left = self.sources.source(node.left)
        if isinstance(node.right, (ast.Number, ast.String)):
            if left is None:
                return LeafShape.constant(false())
            predicate = self.literal_predicate(left, node.op, node.right.value)
            # the estimate leaves out the NaN guard, so it counts from the index alone
            estimate = self.literal_predicate(replace(left, kind=None), node.op, node.right.value)
            return self.shape([left], predicate, rank=0 if node.op == "=" else 1, estimate=estimate)
        right = self.sources.source(node.right)
        if left is None or right is None:
            return LeafShape.constant(false())
        return self.shape([left, right], self.field_predicate(left, node.op, right), rank=2)

    def in_list(self, node: ast.InList) -> LeafShape:
        source = self.sources.source(node.operand)
        if source is None:
            return LeafShape.constant(false())
        values = [value.value for value in node.values]
        if isinstance(node.values[0], ast.Number):
            rank = self.infinity_rank(source)
            if rank is None:
                member = source.value.in_(values)
            else:  # ±inf stored as ±max-float: compare (rank, value) pairs
                member = tuple_(rank, source.value).in_([literal_rank(v) for v in values])
            test = _or(not_(member), source.nan) if node.negated else _and(member, source.not_nan)
        else:
            member = self.rules.in_list(source.value, values)
            test = not_(member) if node.negated else member
        return self.shape([source], test, rank=2 if node.negated else 0)

    def is_null(self, node: ast.IsNull) -> LeafShape:
        source = self.sources.source(node.operand)
        if source is None:
            return LeafShape.constant(true() if not node.negated else false())
        if source.table is None:
            return LeafShape.constant(source.value.is_not(None) if node.negated else source.value.is_(None))
        present = self.shape([source], true(), rank=2)
        return present if node.negated else present.negated()

    def shape(self, sources: list[Source], predicate: ColumnElement, rank: int,
              estimate: ColumnElement | None = None) -> LeafShape:
        """The driver/probe forms of "the sources' values exist and satisfy the predicate"."""
        children = [s for s in sources if s.table is not None]
        parents = [s for s in sources if s.table is None]
        guards = [s.value.is_not(None) for s in parents if getattr(s.value, "nullable", True)]
        if not children:
            return LeafShape.constant(_and(*guards, predicate))
        first, *others = children
        conditions = [*first.conditions, *guards]
        from_ = first.table
        for other in others:
            from_ = from_.join(other.table, other.link == first.link)
            conditions.extend(other.conditions)
        rows = select(first.link).select_from(from_).where(*conditions, predicate)
        shape = LeafShape(self.sources.parent_id, rows, first.link, rank, can_drive=not parents)
        # selecting a constant lets SQLite count from the index without visiting table rows
        counted = predicate if estimate is None else estimate
        shape.estimate = select(literal(1)).select_from(from_).where(*conditions, counted)
        return shape

    # -- predicates -------------------------------------------------------------------

    def literal_predicate(self, source: Source, op: str, value) -> ColumnElement:
        """``source op value`` for a literal; NaN is unequal to everything."""
        column = source.value
        if isinstance(value, str):
            if op == "LIKE":
                return self.rules.like(column, value)
            if op == "ILIKE":
                return self.rules.ilike(column, value)
            test = self.rules.equals(column, value)
            return test if op == "=" else not_(test)
        rank = self.infinity_rank(source)
        if rank is None:
            test = _OPERATORS[op](column, value)
        else:  # ±inf stored as ±max-float: compare (rank, value) pairs
            test = _OPERATORS[op](tuple_(rank, column), tuple_(*map(literal, literal_rank(value))))
        if op == "!=":
            return _or(test, source.nan)
        return _and(test, source.not_nan)

    def field_predicate(self, left: Source, op: str, right: Source) -> ColumnElement:
        """``left op right`` for two fields of the same row."""
        if left.kind is None and right.kind is None and op in ("=", "!=") and _is_string(left):
            test = self.rules.equals(left.value, right.value)
            return test if op == "=" else not_(test)
        left_rank, right_rank = self.infinity_rank(left), self.infinity_rank(right)
        if left_rank is None and right_rank is None:
            test = _OPERATORS[op](left.value, right.value)
        else:  # ±inf stored as ±max-float: compare (rank, value) pairs
            test = _OPERATORS[op](tuple_(literal(0) if left_rank is None else left_rank, left.value),
                                  tuple_(literal(0) if right_rank is None else right_rank, right.value))
        if op == "!=":
            return _or(test, left.nan, right.nan)
        return _and(test, left.not_nan, right.not_nan)

    def infinity_rank(self, source: Source) -> ColumnElement | None:
        """On backends without ±inf, the rank that keeps ±inf apart from ±max-float (dialects.infinity_rank)."""
        return None if self.rules.native_inf else infinity_rank(source.value, source.kind)


class LeafShape:
    """A clause as "these child rows exist for the run": written as a driver or a probe."""

    def __init__(self, parent_id, rows: Select | None, link, rank: int, can_drive: bool,
                 fixed: ColumnElement | None = None, negate: bool = False) -> None:
        self.parent_id, self.rows, self.link = parent_id, rows, link
        self.rank, self.can_drive, self.fixed, self.negate = rank, can_drive, fixed, negate
        self.estimate = rows  # what to count when choosing a driver (cheaper than rows where possible)

    @classmethod
    def constant(cls, condition: ColumnElement) -> LeafShape:
        """A clause on the searched row's own columns (or a constant): the same in both forms."""
        return cls(None, None, None, rank=9, can_drive=False, fixed=condition)

    def negated(self) -> LeafShape:
        """The same rows, required to be absent (IS NULL): never a driver."""
        return LeafShape(self.parent_id, self.rows, self.link, self.rank, False, self.fixed, True)

    def driver(self) -> ColumnElement:
        if self.fixed is not None:
            return self.fixed
        if not self.can_drive:  # correlated on the searched row's columns, or IS NULL
            return self.probe()
        test = self.parent_id.in_(self.rows)
        return not_(test) if self.negate else test

    def probe(self) -> ColumnElement:
        if self.fixed is not None:
            return self.fixed
        test = self.rows.where(self.link == self.parent_id).exists()
        return not_(test) if self.negate else test


def _capped_count(shape: LeafShape, cap: int = DRIVER_PROBE_CAP) -> ColumnElement:
    """How many rows the clause matches, counting no further than ``cap``."""
    return select(func.count()).select_from(shape.estimate.limit(cap).subquery()).scalar_subquery()


def _first_or(items: list[ast.Node]) -> ast.Or | None:
    return next((item for item in items if isinstance(item, ast.Or)), None)


def flatten_and(node: ast.And) -> list[ast.Node]:
    """The terms of nested ANDs, in order."""
    items = []
    for item in node.items:
        items.extend(flatten_and(item) if isinstance(item, ast.And) else [item])
    return items


def _is_string(source: Source) -> bool:
    return source.value.type.python_type is str


def _and(*terms: ColumnElement | None) -> ColumnElement:
    present = [t for t in terms if t is not None]
    return present[0] if len(present) == 1 else and_(*present)


def _or(*terms: ColumnElement | None) -> ColumnElement:
    present = [t for t in terms if t is not None]
    return present[0] if len(present) == 1 else or_(*present)
