"""Parse filter and order_by strings into resolved ASTs; every failure is a FilterSyntaxError.

Parsing is cached (strings repeat: UIs and pagination send the same filter again), capped
in length, nesting and clause count, and no pyparsing exception escapes: each becomes a
FilterSyntaxError with a position, an "expected ..." reason and a hint where one helps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from ..errors import FilterSyntaxError
from . import ast
from .resolve import Resolver
from .vocabulary import EXPERIMENT_VOCABULARY, RUN_VOCABULARY

if TYPE_CHECKING:
    import pyparsing as pp

MAX_FILTER_CHARS = 10_000
MAX_NESTING = 20
MAX_CLAUSES = 200

_VOCABULARIES = {"run": RUN_VOCABULARY, "experiment": EXPERIMENT_VOCABULARY}


def parse_filter(filter_string: str | None) -> ast.Node | None:
    """Parse a run filter; None for an empty filter (which matches every run)."""
    return parse_filter_for(filter_string, "run")


def parse_order_by(order_by: Iterable[str] | None) -> list[ast.OrderTerm]:
    """Parse run order_by clauses, one per string; duplicate fields are an error."""
    return parse_order_by_for(order_by, "run")


def parse_filter_for(filter_string: str | None, entity: str) -> ast.Node | None:
    """Parse a filter for the searches of ``entity`` ("run" or "experiment")."""
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise FilterSyntaxError(f"a filter must be a string, not {type(filter_string).__name__}")
    return _parse_filter_cached(filter_string, entity)


def parse_order_by_for(order_by: Iterable[str] | None, entity: str) -> list[ast.OrderTerm]:
    """Parse order_by clauses for the searches of ``entity``."""
    if order_by is None:
        return []
    if isinstance(order_by, str):
        raise FilterSyntaxError("order_by must be a list of strings, e.g. ['metrics.acc DESC']")
    clauses = tuple(order_by)
    for clause in clauses:
        if not isinstance(clause, str):
            raise FilterSyntaxError(f"an order_by clause must be a string, not {type(clause).__name__}")
    return list(_parse_order_by_cached(clauses, entity))


@lru_cache(maxsize=512)
def _parse_filter_cached(text: str, entity: str) -> ast.Node | None:
    _check_size(text)
    if not text.strip():
        return None  # matches every run; the grammar (and pyparsing's import) is not needed
    from . import grammar

    tree = _run_parser(grammar.filter_string, text, leftover=None)
    if not tree:
        return None
    node = tree[0]
    clauses = sum(1 for n in ast.walk(node) if isinstance(n, (ast.Compare, ast.InList, ast.IsNull)))
    if clauses > MAX_CLAUSES:
        raise FilterSyntaxError(f"the filter has {clauses} clauses; at most {MAX_CLAUSES} are allowed",
                                text, 0)
    return Resolver(_VOCABULARIES[entity], text).node(node)


@lru_cache(maxsize=256)
def _parse_order_by_cached(clauses: tuple[str, ...], entity: str) -> tuple[ast.OrderTerm, ...]:
    if not clauses:
        return ()
    from . import grammar

    terms, seen = [], {}
    for clause in clauses:
        _check_size(clause)
        term = _run_parser(grammar.order_clause, clause, leftover="ASC, DESC or the end of the clause")[0]
        term = Resolver(_VOCABULARIES[entity], clause).order_term(term)
        identity = ast.operand_identity(term.operand)
        if identity in seen:
            raise FilterSyntaxError(f"order_by contains duplicate fields: {seen[identity]!r} and {clause!r}",
                                    clause, term.span.start)
        seen[identity] = clause
        terms.append(term)
    return tuple(terms)


def _check_size(text: str) -> None:
    if len(text) > MAX_FILTER_CHARS:
        raise FilterSyntaxError(f"the string is {len(text)} characters long; at most {MAX_FILTER_CHARS} "
                                "are allowed", text, MAX_FILTER_CHARS)
    if "\x00" in text:  # no stored key or value can hold NUL; PostgreSQL would refuse the query
        raise FilterSyntaxError("the string contains a NUL character, which no key or value can hold",
                                text, text.index("\x00"))
    depth = _max_nesting(text)
    if depth > MAX_NESTING:
        raise FilterSyntaxError(f"parentheses nest {depth} deep; at most {MAX_NESTING} are allowed",
                                text, 0)


def _max_nesting(text: str) -> int:
    """The deepest parenthesis nesting outside quotes (checked before parsing, to bound recursion)."""
    depth = deepest = 0
    for part in re.split(r"('[^']*'|\"[^\"]*\"|`[^`]*`)", text)[::2]:
        for char in part:
            if char == "(":
                depth += 1
                deepest = max(deepest, depth)
            elif char == ")":
                depth -= 1
    return deepest


def _run_parser(element: pp.ParserElement, text: str, leftover: str | None) -> list:
    """Parse all of ``text``; ``leftover`` names what may follow a complete order clause."""
    import pyparsing as pp

    try:
        return element.parse_string(text, parse_all=True).as_list()
    except pp.ParseBaseException as exc:
        raise _syntax_error(text, exc, leftover) from None
    except RecursionError:
        raise FilterSyntaxError("the string nests too deeply to parse", text, 0) from None
    except Exception as exc:  # noqa: BLE001 - a grammar bug must still reach the user as a syntax error
        raise FilterSyntaxError(f"could not parse the string ({type(exc).__name__}: {exc})", text, 0) from exc


def _syntax_error(text: str, exc: pp.ParseBaseException, leftover: str | None) -> FilterSyntaxError:
    """Turn a pyparsing exception into a FilterSyntaxError at the most useful position."""
    loc, expected = exc.loc, _expected(exc)
    if "end of text" in exc.msg:
        loc, expected = (loc, leftover) if leftover else _diagnose_leftover(text, loc)
    if loc > 0 and text[loc - 1:loc + 1] in ("==", "<>"):
        loc -= 1  # point at the whole wrong comparator
    found = _found(text, loc)
    reason = f"expected {expected}, found {found}"
    return FilterSyntaxError(reason + _hint(text, loc), text, loc)


def _expected(exc: pp.ParseBaseException) -> str:
    msg = exc.msg
    return msg[len("Expected "):] if msg.startswith("Expected ") else msg


def _diagnose_leftover(text: str, loc: int) -> tuple[int, str]:
    """Text left after a complete expression: re-parse it to find what went wrong inside."""
    import pyparsing as pp

    from . import grammar

    try:
        grammar.expr.parse_string(text[loc:])
    except pp.ParseBaseException as inner:
        if inner.loc > 0:
            return loc + inner.loc, _expected(inner)
    except RecursionError:
        pass
    return loc, "AND, OR, a comparison or the end of the filter"


def _found(text: str, loc: int) -> str:
    if loc >= len(text):
        return "end of string"
    token = re.match(r"\S+", text[loc:])
    word = token.group(0) if token else text[loc]
    return repr(word if len(word) <= 20 else word[:20] + "...")


def _hint(text: str, loc: int) -> str:
    rest = text[loc:]
    if rest.startswith("=="):
        return " (use = for equality, not ==)"
    if rest.startswith("<>"):
        return " (use != for inequality, not <>)"
    if rest[:1] and rest[0] in "-/:#$@&+*%!" and loc > 0 and (text[loc - 1].isalnum() or text[loc - 1] == "_"):
        return _quote_hint(text, loc)
    return ""


def _quote_hint(text: str, loc: int) -> str:
    """Suggest backticks for a key that contains an operator character."""
    start = loc
    while start > 0 and re.match(r"[\w.`\"]", text[start - 1]):
        start -= 1
    end = loc
    while end < len(text) and not text[end].isspace() and text[end] not in "=<>!()":
        end += 1
    whole = text[start:end]
    if "." not in whole:
        return ""
    prefix, key = whole.split(".", 1)
    return f" (a key containing {text[loc]!r} must be quoted, e.g. {prefix}.`{key}`)"
