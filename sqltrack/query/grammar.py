"""The pyparsing grammar of filter and order_by strings (see docs/grammar.md).

Built once at import. Parse actions only build ``ast`` nodes; checking what a field
means (is ``metrcs`` a prefix? may a metric use LIKE?) happens later, in ``resolve``.
No packrat: the boolean layer is written as precedence levels (OR < AND < NOT) rather
than with ``infix_notation``, whose look-aheads grow exponentially with nesting when
packrat is off.
"""

from __future__ import annotations

import re

import pyparsing as pp

from . import ast

# -- lexical pieces ----------------------------------------------------------------

_KEYWORDS = "and|or|not|in|is|null|like|ilike|asc|desc"
_NOT_A_KEYWORD = rf"(?!(?i:{_KEYWORDS})(?![\w$]))"
_BACKTICKED = r"`[^`]*`"
_KEY = r"\"[^\"]*\"|`[^`]*`|'[^']*'|[\w.]+"
_PREFIX = rf"[A-Za-z_]\w*|{_BACKTICKED}"
FIELD_RE = re.compile(
    rf"(?:(?P<prefix>{_PREFIX})\.(?P<key>{_KEY}))"
    rf"|(?P<bare>{_NOT_A_KEYWORD}[A-Za-z_]\w*(?![\w.])|{_BACKTICKED})"
)
NUMBER_RE = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])"
# Like sqlparse: doubled quotes and backslash-escaped quotes stay inside the literal, verbatim.
STRING_RE = r"'(?:''|\\\\|\\'|[^'])*'|\"(?:\"\"|\\\\|\\\"|[^\"])*\""
_FUNCTIONS = "|".join(ast.AGGREGATES + ast.CASTS)


def _strip_quotes(text: str) -> str:
    """Remove one pair of matching quotes or backticks around a key."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    return text


def _span(loc: int, text: str) -> ast.Span:
    return ast.Span(loc, loc + len(text))


def _make_field(s: str, loc: int, toks: pp.ParseResults) -> ast.Field:
    text = toks[0]
    match = FIELD_RE.fullmatch(text)
    if match is None:  # e.g. a keyword glued to what follows ('NOT$a'): not a field after all
        raise pp.ParseException(s, loc, "a field such as metrics.acc")
    if match.group("bare") is not None:
        return ast.Field(None, _strip_quotes(match.group("bare")), _span(loc, text))
    prefix = match.group("prefix")
    prefix = prefix[1:-1] if prefix.startswith("`") else prefix
    return ast.Field(prefix, _strip_quotes(match.group("key")), _span(loc, text))


def _make_number(s: str, loc: int, toks: pp.ParseResults) -> ast.Number:
    text = toks[0]
    value: int | float = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    return ast.Number(value, text, _span(loc, text))


def _make_string(s: str, loc: int, toks: pp.ParseResults) -> ast.String:
    return ast.String(toks[0][1:-1], _span(loc, toks[0]))


class _Op:
    """A comparator token with its span (internal to the grammar)."""

    __slots__ = ("text", "span")

    def __init__(self, text: str, span: ast.Span) -> None:
        self.text, self.span = text, span


class _Tail:
    """What follows an operand in a comparison (internal to the grammar)."""

    __slots__ = ("kind", "parts")

    def __init__(self, kind: str, *parts) -> None:
        self.kind, self.parts = kind, parts


def _make_func(s: str, loc: int, toks: pp.ParseResults) -> ast.Func:
    start, (name, field), end = toks
    return ast.Func(name.lower(), field, ast.Span(start, end))


def _make_comparison(s: str, loc: int, toks: pp.ParseResults) -> ast.Node:
    start, (operand, tail), end = toks
    span = ast.Span(start, end)
    if tail.kind == "cmp":
        op, rhs = tail.parts
        return ast.Compare(operand, op.text, rhs, span, op.span)
    if tail.kind == "in":
        negated, values = tail.parts
        return ast.InList(operand, tuple(values), negated, span)
    return ast.IsNull(operand, tail.parts[0], span)


def _make_bool(cls):
    def action(s: str, loc: int, toks: pp.ParseResults):
        start, items, end = toks
        items = list(items)
        return items[0] if len(items) == 1 else cls(tuple(items), ast.Span(start, end))

    return action


def _make_not(s: str, loc: int, toks: pp.ParseResults) -> ast.Node:
    """NOT x; NOT NOT x is x (negation is plain, so long NOT chains never reach the database)."""
    start, (_kw, item), end = toks
    if isinstance(item, ast.Not):
        return item.item
    return ast.Not(item, ast.Span(start, end))


def _make_order(s: str, loc: int, toks: pp.ParseResults) -> ast.OrderTerm:
    start, parts, end = toks
    descending = len(parts) > 1 and parts[1].upper() == "DESC"
    return ast.OrderTerm(parts[0], descending, ast.Span(start, end))


# -- elements -----------------------------------------------------------------------

AND = pp.CaselessKeyword("AND").set_name("AND")
OR = pp.CaselessKeyword("OR").set_name("OR")
NOT = pp.CaselessKeyword("NOT").set_name("NOT")
IN = pp.CaselessKeyword("IN").set_name("IN")
IS = pp.CaselessKeyword("IS").set_name("IS")
NULL = pp.CaselessKeyword("NULL").set_name("NULL")
LIKE = pp.CaselessKeyword("LIKE").set_name("LIKE")
ILIKE = pp.CaselessKeyword("ILIKE").set_name("ILIKE")
ASC = pp.CaselessKeyword("ASC").set_name("ASC")
DESC = pp.CaselessKeyword("DESC").set_name("DESC")
LPAR = pp.Suppress("(").set_name("'('")
RPAR = pp.Suppress(")").set_name("')'")

field = pp.Regex(FIELD_RE).set_name("field (e.g. metrics.acc)").set_parse_action(_make_field)
number = pp.Regex(NUMBER_RE).set_name("number").set_parse_action(_make_number)
string = pp.Regex(STRING_RE).set_name("quoted string").set_parse_action(_make_string)
literal = (number | string).set_name("number or quoted string")

func_name = pp.Regex(rf"(?i:{_FUNCTIONS})(?=\s*\()").set_name("function name")
func_call = pp.Located(func_name + LPAR - field + RPAR).set_name("function call")
func_call.set_parse_action(_make_func)
operand = (func_call | field).set_name("field")

comparator = pp.Regex(r"!=|<=|>=|=|<|>") | LIKE | ILIKE
comparator = comparator.set_name("comparator (=, !=, <, <=, >, >=, LIKE, ILIKE)")
comparator.set_parse_action(lambda s, loc, toks: _Op(toks[0].upper(), _span(loc, toks[0])))
rhs = (number | string | operand).set_name("value (number, quoted string or field)")

value_list = pp.DelimitedList(literal, allow_trailing_delim=True).set_name("list of values")
cmp_tail = (comparator - rhs).set_parse_action(lambda t: _Tail("cmp", t[0], t[1]))
in_tail = (pp.Opt(NOT) + IN - LPAR - pp.Group(value_list) - RPAR).set_name("IN (...)")
in_tail.set_parse_action(lambda t: _Tail("in", len(t) == 3, t[-1]))
null_tail = (IS - pp.Opt(NOT) + NULL).set_name("IS [NOT] NULL")
null_tail.set_parse_action(lambda t: _Tail("null", len(t) == 3))
tail = (cmp_tail | in_tail | null_tail).set_name("comparator, IN or IS NULL")

comparison = pp.Located(operand + tail).set_name("comparison").set_parse_action(_make_comparison)

expr = pp.Forward().set_name("expression")
group = (LPAR + expr - RPAR).set_name("parenthesized expression")
atom = (group | comparison).set_name("comparison")
not_term = pp.Forward().set_name("term")
negation = pp.Located(NOT + not_term).set_name("NOT term").set_parse_action(_make_not)
not_term <<= (negation | atom).set_name("comparison")
# MLflow accepts a missing AND, a repeated one, and a leading or trailing one (spec §2.1).
_ANDS = pp.Suppress(pp.ZeroOrMore(AND))
and_term = pp.Located(_ANDS + not_term + pp.ZeroOrMore(_ANDS + not_term) + _ANDS)
and_term.set_name("AND expression").set_parse_action(_make_bool(ast.And))
or_term = pp.Located(and_term + pp.ZeroOrMore(pp.Suppress(OR) - and_term))
or_term.set_name("OR expression").set_parse_action(_make_bool(ast.Or))
expr <<= or_term

#: A whole filter string; parses to zero or one node.
filter_string = (_ANDS + pp.Opt(expr)).set_name("filter")
#: One order_by clause.
order_clause = pp.Located(operand + pp.Opt(ASC | DESC)).set_name("order_by clause")
order_clause.set_parse_action(_make_order)
