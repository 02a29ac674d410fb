"""Compile a resolved filter AST into one SQLAlchemy Core boolean over the searched table.

Each comparison on a keyed value (metric, param, tag) becomes a semi-join
``runs.id IN (SELECT run_id FROM <child> WHERE key_id = (SELECT id FROM key_names WHERE
name = :key) AND <predicate>)``: uncorrelated, so SQLite runs it once, driven by the
``(key_id, value)`` indexes, and two-valued, so NOT/OR behave. The rules:

* a row without the key never satisfies a comparison, ``!=`` and ``NOT IN`` included;
  ``NOT`` is plain negation, so ``NOT params.a = 'x'`` keeps runs without ``a``;
* NaN compares as in IEEE (only ``!=`` is true); NaN is stored as 0 with ``kind = NAN``;
* ``X IS NULL`` is true when the run has no value for X;
* dataset fields never match (this store records no datasets).
"""

from __future__ import annotations

import operator
from typing import Protocol

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from . import ast
from .dialects import DialectRules
from .sources import Source

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
        if node is None:
            return true()
        if isinstance(node, ast.And):
            return and_(*(self.compile(item) for item in node.items))
        if isinstance(node, ast.Or):
            return or_(*(self.compile(item) for item in node.items))
        if isinstance(node, ast.Not):
            return not_(self.compile(node.item))
        if isinstance(node, ast.IsNull):
            return self.is_null(node)
        if isinstance(node, ast.InList):
            return self.in_list(node)
        return self.compare(node)

    # -- clauses --------------------------------------------------------------------

    def compare(self, node: ast.Compare) -> ColumnElement:
        left = self.sources.source(node.left)
        if isinstance(node.right, (ast.Number, ast.String)):
            if left is None:
                return false()
            return self.semi_join([left], self.literal_predicate(left, node.op, node.right.value))
        right = self.sources.source(node.right)
        if left is None or right is None:
            return false()
        return self.semi_join([left, right], self.field_predicate(left, node.op, right))

    def in_list(self, node: ast.InList) -> ColumnElement:
        source = self.sources.source(node.operand)
        if source is None:
            return false()
        values = [value.value for value in node.values]
        if isinstance(node.values[0], ast.Number):
            member = source.value.in_(values)
            test = _or(not_(member), source.nan) if node.negated else _and(member, source.not_nan)
        else:
            member = self.rules.in_list(source.value, values)
            test = not_(member) if node.negated else member
        return self.semi_join([source], test)

    def is_null(self, node: ast.IsNull) -> ColumnElement:
        source = self.sources.source(node.operand)
        if source is None:
            return true() if not node.negated else false()
        if source.table is None:
            return source.value.is_not(None) if node.negated else source.value.is_(None)
        present = self.semi_join([source], true())
        return present if node.negated else not_(present)

    # -- predicates -----------------------------------------------------------------

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
        test = _OPERATORS[op](column, value)
        if op == "!=":
            return _or(test, source.nan)
        return _and(test, source.not_nan)

    def field_predicate(self, left: Source, op: str, right: Source) -> ColumnElement:
        """``left op right`` for two fields of the same row."""
        if left.kind is None and right.kind is None and op in ("=", "!=") and _is_string(left):
            test = self.rules.equals(left.value, right.value)
            return test if op == "=" else not_(test)
        test = _OPERATORS[op](left.value, right.value)
        if op == "!=":
            return _or(test, left.nan, right.nan)
        return _and(test, left.not_nan, right.not_nan)

    # -- joining to the searched row ------------------------------------------------

    def semi_join(self, sources: list[Source], predicate: ColumnElement) -> ColumnElement:
        """The rows for which the sources' values exist and satisfy the predicate."""
        children = [s for s in sources if s.table is not None]
        parents = [s for s in sources if s.table is None]
        guards = [s.value.is_not(None) for s in parents if getattr(s.value, "nullable", True)]
        if not children:
            return _and(*guards, predicate)
        first, *others = children
        conditions = [*first.conditions, *guards]
        from_ = first.table
        for other in others:
            from_ = from_.join(other.table, other.link == first.link)
            conditions.extend(other.conditions)
        conditions.append(predicate)
        if parents:  # a column of the searched row takes part: correlate on it
            query = select(first.link).select_from(from_).where(first.link == self.sources.parent_id, *conditions)
            return exists(query)
        return self.sources.parent_id.in_(select(first.link).select_from(from_).where(*conditions))


def _is_string(source: Source) -> bool:
    return source.value.type.python_type is str


def _and(*terms: ColumnElement | None) -> ColumnElement:
    present = [t for t in terms if t is not None]
    return present[0] if len(present) == 1 else and_(*present)


def _or(*terms: ColumnElement | None) -> ColumnElement:
    present = [t for t in terms if t is not None]
    return present[0] if len(present) == 1 else or_(*present)
