"""The syntax tree of filter and order_by strings: frozen dataclasses, each with its source span.

The grammar builds these nodes with ``Field.kind`` empty; ``resolve`` then fills in the
canonical kind (``metric``, ``param``, ``tag``, ``attribute``, ``dataset``) and canonical key.
Nodes hold only tuples, so a tree is hashable and safe to share from a cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

#: Functions over a metric's history (``last`` is the latest value, i.e. the metric itself).
AGGREGATES = ("min", "max", "first", "last", "count", "avg")
#: ``number(params.x)``: the param read as a number.
CASTS = ("number",)


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range ``[start, end)`` of a node in the parsed string."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Field:
    """A value of a run: ``metrics.acc``, ``params.lr``, ``tags.x``, ``status`` ..."""

    prefix: str | None  # as written (``metric``, ``params``, ``attr`` ...); None when bare
    key: str            # unquoted key
    span: Span
    kind: str = ""      # canonical kind, filled in by ``resolve``


@dataclass(frozen=True, slots=True)
class Func:
    """A function of a field: an aggregate of a metric's history or ``number(params.x)``."""

    name: str  # lower-case: one of AGGREGATES or CASTS
    arg: Field
    span: Span


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal; ``value`` is an int when written as an integer."""

    value: int | float
    text: str
    span: Span


@dataclass(frozen=True, slots=True)
class String:
    """A quoted string literal (MLflow does no unescaping: the text between the quotes)."""

    value: str
    span: Span


Operand = Union[Field, Func]
Literal = Union[Number, String]


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` where op is ``= != < <= > >= LIKE ILIKE`` (upper-case)."""

    left: Operand
    op: str
    right: Union[Operand, Literal]
    span: Span
    op_span: Span


@dataclass(frozen=True, slots=True)
class InList:
    """``operand [NOT] IN (v1, v2, ...)``."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class IsNull:
    """``operand IS [NOT] NULL``: whether the run has no value for the operand."""

    operand: Operand
    negated: bool
    span: Span


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Node", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Node", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    item: "Node"
    span: Span


Node = Union[Compare, InList, IsNull, And, Or, Not]


@dataclass(frozen=True, slots=True)
class OrderTerm:
    """One order_by clause: an operand and its direction."""

    operand: Operand
    descending: bool
    span: Span


def operand_field(operand: Operand) -> Field:
    """The field an operand reads (the argument of a function)."""
    return operand.arg if isinstance(operand, Func) else operand


def operand_identity(operand: Operand) -> tuple:
    """What an operand reads, ignoring spelling and position (``last(metrics.a)`` is ``metrics.a``)."""
    field = operand_field(operand)
    name = operand.name if isinstance(operand, Func) and operand.name != "last" else ""
    return (name, field.kind, field.key)


def walk(node: Node):
    """Yield every boolean node of a tree, depth first."""
    yield node
    if isinstance(node, (And, Or)):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)
