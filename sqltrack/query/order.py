"""Turn resolved order_by terms into ORDER BY clauses with MLflow's semantics.

* Each term sorts first on a "missing" rank, always ascending, so rows without a value
  come last in both directions; for metrics NaN ranks after numbers and before missing.
* Keyed values (metrics, params, tags) come from a LEFT OUTER JOIN on (run_id, key_id),
  so runs without the key are kept.
* Params, tags and string attributes sort as strings (code-point order); ``number(...)``
  and metrics sort as numbers.
* Tie-breaks: the default keys (for runs ``start_time DESC`` unless already ordered on,
  then ``run_uuid ASC``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause, Select

from ..store.values import NAN, NEG_INF, POS_INF
from . import ast
from .compiler import Sources
from .dialects import DialectRules
from .sources import Source


@dataclass(frozen=True)
class Ordering:
    """The outer joins and ORDER BY clauses for a search."""

    joins: tuple[tuple[FromClause, ColumnElement], ...]
    clauses: tuple[ColumnElement, ...]

    def apply(self, query: Select, base: FromClause) -> Select:
        """Add the joins (to ``base``) and the ORDER BY to a query."""
        from_ = base
        for table, on in self.joins:
            from_ = from_.outerjoin(table, on)
        return query.select_from(from_).order_by(*self.clauses)


def sort_keys(source: Source, descending: bool, rules: DialectRules) -> list[ColumnElement]:
    """The ORDER BY keys of one value, missing last (and NaN just before missing)."""
    value = source.value
    if rules.string_sort_key and _is_string(value):
        value = rules.string_sort_key(value)
    ordered = value.desc() if descending else value.asc()
    if source.kind is not None:
        rank = case((source.value.is_(None), 2), (source.kind == NAN, 1), else_=0)
        return [rank, *_infinity_keys(source, descending, rules), ordered]
    never_null = source.table is None and not getattr(source.value, "nullable", True)
    if never_null or descending == rules.nulls_sort_low:
        return [ordered]  # no NULLs, or the backend already puts them last in this direction
    if rules.nulls_last_syntax:
        return [ordered.nulls_last()]
    return [case((source.value.is_(None), 1), else_=0), ordered]


def _infinity_keys(source: Source, descending: bool, rules: DialectRules) -> list[ColumnElement]:
    """Where ±inf are stored as ±max-float, sort on the kind first so inf > max-float."""
    if rules.native_inf:
        return []
    infinity = case((source.kind == POS_INF, 1), (source.kind == NEG_INF, -1), else_=0)
    return [infinity.desc() if descending else infinity]


def build_ordering(terms: list[ast.OrderTerm], sources: Sources, rules: DialectRules,
                   defaults: list[tuple[ast.Operand, bool]],
                   tie_breaks: list[tuple[ast.Operand, bool]]) -> Ordering:
    """Joins and clauses for the terms, then defaults (when no terms) and tie-breaks."""
    chosen = [(term.operand, term.descending) for term in terms] or list(defaults)
    seen = {ast.operand_identity(operand) for operand, _ in chosen}
    chosen += [(op, desc) for op, desc in tie_breaks if ast.operand_identity(op) not in seen]
    joins, clauses = [], []
    for operand, descending in chosen:
        source = sources.source(operand, for_order=True)
        if source.table is not None:
            on = source.link == sources.parent_id
            for condition in source.conditions:
                on = on & condition
            joins.append((source.table, on))
        clauses.extend(sort_keys(source, descending, rules))
    return Ordering(tuple(joins), tuple(clauses))


def attribute(key: str) -> ast.Field:
    """A resolved attribute field, for default orders."""
    return ast.Field("attributes", key, ast.Span(0, 0), kind="attribute")


def _is_string(value: ColumnElement) -> bool:
    try:
        return value.type.python_type is str
    except NotImplementedError:
        return False

