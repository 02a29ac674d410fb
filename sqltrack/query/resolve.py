"""Check what a parsed tree means and put it in canonical form, or raise FilterSyntaxError.

Canonical form: every ``Field`` has its ``kind`` and canonical key; a param compared with
a number is wrapped as ``number(params.x)``; ``last(metrics.x)`` is ``metrics.x``; an
experiment id written as a string is a ``Number``. The compiler and the reference
evaluator can then rely on types being right.
"""

from __future__ import annotations

import difflib
from dataclasses import replace

from ..errors import FilterSyntaxError
from . import ast
from .vocabulary import Vocabulary

NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE")


class Resolver:
    """Resolves the nodes of one filter or order_by string against a vocabulary."""

    def __init__(self, vocabulary: Vocabulary, text: str) -> None:
        self.vocabulary = vocabulary
        self.text = text

    def fail(self, reason: str, position: int) -> FilterSyntaxError:
        return FilterSyntaxError(reason, self.text, position)

    # -- boolean structure ----------------------------------------------------------

    def node(self, node: ast.Node) -> ast.Node:
        """Resolve a boolean node and everything under it."""
        if isinstance(node, (ast.And, ast.Or)):
            return replace(node, items=tuple(self.node(item) for item in node.items))
        if isinstance(node, ast.Not):
            return replace(node, item=self.node(node.item))
        if isinstance(node, ast.IsNull):
            return replace(node, operand=self.operand(node.operand))
        if isinstance(node, ast.InList):
            return self.in_list(node)
        return self.compare(node)

    def order_term(self, term: ast.OrderTerm) -> ast.OrderTerm:
        """Resolve an order_by term; some kinds (datasets) cannot be ordered by."""
        operand = self.operand(term.operand)
        kind = ast.operand_field(operand).kind
        if kind in self.vocabulary.unorderable:
            raise self.fail(f"cannot order {self.vocabulary.entity}s by a {kind} field", term.span.start)
        return replace(term, operand=operand)

    # -- operands -------------------------------------------------------------------

    def operand(self, operand: ast.Operand) -> ast.Operand:
        """Resolve a field or function; ``last(f)`` becomes ``f``."""
        if isinstance(operand, ast.Field):
            return self.field(operand)
        arg = self.field(operand.arg)
        if operand.name == "number":
            if self.type_of(arg) != "param":
                raise self.fail("number() takes a param, e.g. number(params.lr)", operand.arg.span.start)
        elif arg.kind != "metric":
            raise self.fail(f"{operand.name}() takes a metric, e.g. {operand.name}(metrics.loss)",
                            operand.arg.span.start)
        elif operand.name == "last":
            return replace(arg, span=operand.span)
        return replace(operand, arg=arg)

    def field(self, field: ast.Field) -> ast.Field:
        """Give a field its canonical kind and key."""
        if field.prefix is None:
            return self.attribute(field, bare=True)
        kind = self.vocabulary.prefixes.get(field.prefix)
        if kind is None:
            raise self.fail(self.unknown_prefix(field.prefix), field.span.start)
        if kind == "attribute":
            return self.attribute(field, bare=False)
        if kind == "dataset" and field.key not in self.vocabulary.dataset_keys:
            keys = ", ".join(self.vocabulary.dataset_keys)
            raise self.fail(f"unknown dataset key {field.key!r}; valid keys are {keys}", field.span.start)
        return replace(field, kind=kind)

    def attribute(self, field: ast.Field, bare: bool) -> ast.Field:
        entry = self.vocabulary.attributes.get(field.key)
        if entry is None:
            raise self.fail(self.unknown_attribute(field.key, bare), field.span.start)
        return replace(field, kind="attribute", key=entry[0])

    def type_of(self, operand: ast.Operand) -> str:
        """``number``, ``string``, ``param`` or ``id`` for a resolved operand."""
        if isinstance(operand, ast.Func):
            return "number"
        if operand.kind == "attribute":
            return self.vocabulary.attributes[operand.key][1]
        return self.vocabulary.kind_types[operand.kind]

    # -- comparisons ----------------------------------------------------------------

    def compare(self, node: ast.Compare) -> ast.Compare:
        left = self.operand(node.left)
        right = node.right
        if isinstance(right, (ast.Field, ast.Func)):
            return self.compare_fields(node, left, self.operand(right))
        left_type = self.type_of(left)
        if left_type == "id":
            right = self.id_value(right)
            left_type = "number"
        if isinstance(right, ast.Number):
            self.check_op(node, left, NUMBER_OPS, "compared with a number")
            left = self.as_number(left, right)
        else:
            self.expect_string(left, right)
            self.check_op(node, left, STRING_OPS, "compared with a string")
        return replace(node, left=left, right=right)

    def compare_fields(self, node: ast.Compare, left: ast.Operand, right: ast.Operand) -> ast.Compare:
        types = {self.type_of(left), self.type_of(right)}
        if node.op in ("LIKE", "ILIKE"):
            raise self.fail(f"{node.op} needs a quoted pattern on its right", node.right.span.start)
        if "number" in types or "id" in types:
            if not types <= {"number", "param", "id"}:
                raise self.fail("cannot compare a number with a string field", node.op_span.start)
            self.check_op(node, left, NUMBER_OPS, "compared with a number")
            left, right = self.numeric(left), self.numeric(right)
        else:
            self.check_op(node, left, ("=", "!="), "compared with a string field")
        return replace(node, left=left, right=right)

    def in_list(self, node: ast.InList) -> ast.InList:
        operand = self.operand(node.operand)
        values = node.values
        if self.type_of(operand) == "id":
            values = tuple(self.id_value(v) for v in values)
        first = type(values[0])
        for value in values:
            if type(value) is not first:
                raise self.fail("a list must hold only numbers or only quoted strings", value.span.start)
        if first is ast.Number:
            operand = self.as_number(operand, values[0])
        else:
            self.expect_string(operand, values[0])
        return replace(node, operand=operand, values=values)

    def as_number(self, operand: ast.Operand, value: ast.Number) -> ast.Operand:
        """The operand in numeric form, or an error saying the value must be quoted."""
        kind = self.type_of(operand)
        if kind == "string":
            what = describe(operand)
            raise self.fail(f"{what} is a string: quote the value, e.g. '{value.text}'", value.span.start)
        return self.numeric(operand)

    def numeric(self, operand: ast.Operand) -> ast.Operand:
        if self.type_of(operand) == "param":
            return ast.Func("number", operand, operand.span)
        return operand

    def expect_string(self, operand: ast.Operand, value: ast.Literal) -> None:
        if self.type_of(operand) == "number":
            raise self.fail(f"{describe(operand)} is a number: expected a numeric value, found {value_text(value)}",
                            value.span.start)

    def id_value(self, value: ast.Literal) -> ast.Literal:
        """Experiment ids are integers; MLflow writes them as quoted strings."""
        text = value.value if isinstance(value, ast.String) else value.text
        try:
            return ast.Number(int(text), str(text), value.span)
        except ValueError:
            raise self.fail(f"experiment_id must be an integer, found {value_text(value)}",
                            value.span.start) from None

    def check_op(self, node: ast.Compare, left: ast.Operand, allowed: tuple[str, ...], context: str) -> None:
        """Raise naming the comparators that fit when ``node.op`` does not."""
        if node.op not in allowed:
            what = describe(left)
            hint = ""
            if self.type_of(left) == "param" and node.op in NUMBER_OPS:
                hint = " (an unquoted number compares params numerically, e.g. params.lr > 0.01)"
            raise self.fail(f"comparator {node.op} does not apply to {what} {context}; "
                            f"use one of {', '.join(allowed)}{hint}", node.op_span.start)

    # -- messages -------------------------------------------------------------------

    def unknown_prefix(self, prefix: str) -> str:
        known = list(self.vocabulary.prefixes)
        reason = f"unknown entity {prefix!r}"
        if prefix.lower() in known:
            return f"{reason} (prefixes are case-sensitive); did you mean {prefix.lower()}.?"
        close = difflib.get_close_matches(prefix, known, n=1, cutoff=0.6)
        if close:
            return f"{reason}; did you mean {self.preferred_prefix(close[0])}.?"
        return f"{reason}; valid prefixes are {', '.join(p + '.' for p in self.vocabulary.preferred)}"

    def preferred_prefix(self, prefix: str) -> str:
        """The spelling we suggest for a prefix's kind (``param`` → ``params``)."""
        kind = self.vocabulary.prefixes[prefix]
        return next((p for p in self.vocabulary.preferred if self.vocabulary.prefixes[p] == kind), prefix)

    def unknown_attribute(self, key: str, bare: bool) -> str:
        vocab = self.vocabulary
        reason = f"unknown {vocab.entity} attribute {key!r}"
        if key in vocab.not_searchable:
            return f"{reason}: it is not searchable ({vocab.not_searchable[key]})"
        close = difflib.get_close_matches(key, list(vocab.attributes), n=1, cutoff=0.6)
        if close:
            return f"{reason}; did you mean {close[0]}?"
        names = ", ".join(vocab.attribute_names())
        if bare:
            kinds = [p + "." for p in vocab.preferred if vocab.prefixes[p] not in ("attribute", "dataset")]
            return f"{reason}; prefix other fields with {' or '.join(kinds)} (attributes are {names})"
        return f"{reason}; valid attributes are {names}"


def describe(operand: ast.Operand) -> str:
    """A short human name for an operand, for messages."""
    if isinstance(operand, ast.Func):
        return f"{operand.name}({describe(operand.arg)})"
    if operand.kind in ("", "attribute"):
        return f"attribute {operand.key!r}" if operand.kind else repr(operand.key)
    return f"{operand.kind} {operand.key!r}"


def value_text(value: ast.Literal) -> str:
    return value.text if isinstance(value, ast.Number) else repr(value.value)
