"""Hypothesis strategies: small random stores, and random filters/order_by rendered as text."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from .reference import RUN_NAME_TAG, RunSpec

# weighted towards two keys so that filters often hit keys the runs have
KEYS = ["a", "a", "a", "b", "b", "a b", "x'; DROP TABLE runs; --", "ü.k"]
STRINGS = ["", "a", "A", "ab", "a_b", "a%b", "abc", "ABC", "1", "0.5", "1e3", "-2", "x'y", 'q"', "Ü",
           "a[b", "a*b", "a?b"]
PATTERNS = ["%", "a%", "%b", "_", "a_b", "A%", "%[%", "%*%", "%?%", "a[b", "a?b", "_*_", "%ü%", "1%", "%'%"]
NUMBERS = [0, 1, -1, 0.5, 2.5, -0.5, 1000, 1e308]
METRIC_VALUES = [0.0, 1.0, -1.0, 0.5, 2.5, 1000.0, math.nan, math.nan, math.inf, -math.inf]
STATUSES = ["FINISHED", "FAILED", "RUNNING", "KILLED"]
NUMBER_OPS = ["=", "!=", "<", "<=", ">", ">="]
AGGREGATES = ["min", "max", "first", "last", "count", "avg"]


@st.composite
def histories(draw):
    """1-3 metric points with distinct (step, timestamp)."""
    n = draw(st.integers(1, 3))
    points = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=n, max_size=n, unique=True))
    return [(s, t, draw(st.sampled_from(METRIC_VALUES))) for s, t in points]


def _mapping(values):
    return st.dictionaries(st.sampled_from(KEYS), values, max_size=3)


@st.composite
def run_specs(draw, index: int):
    tags = draw(_mapping(st.sampled_from(STRINGS)))
    if draw(st.booleans()):
        tags[RUN_NAME_TAG] = draw(st.sampled_from(STRINGS))
    return RunSpec(
        label=f"r{index}", uuid=f"{draw(st.sampled_from('0af')) }{index:031x}",
        status=draw(st.sampled_from(STATUSES)),
        start_time=draw(st.sampled_from([None, 1, 2, 3])), end_time=draw(st.sampled_from([None, 5, 6])),
        user_id=draw(st.sampled_from([None, "u", "U", "ab"])),
        artifact_uri=draw(st.sampled_from([None, "file:///a", "s3://B/a_b"])),
        params=draw(_mapping(st.sampled_from(STRINGS))), tags=tags,
        metrics=draw(_mapping(histories())))


@st.composite
def stores(draw):
    """A list of 0-6 runs with distinct uuids."""
    n = draw(st.integers(0, 6))
    return [draw(run_specs(i)) for i in range(n)]


def quote_key(key: str) -> str:
    return key if key.replace("_", "a").isalnum() and key.isascii() else f"`{key}`"


def quote_string(value: str) -> str:
    return f"'{value}'" if "'" not in value else f'"{value}"'


def _metric(draw) -> str:
    field = f"metrics.{quote_key(draw(st.sampled_from(KEYS)))}"
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(AGGREGATES))}({field})"
    return field


def _number_field(draw) -> str:
    kind = draw(st.sampled_from(["metric", "param", "number", "start_time", "end_time"]))
    if kind == "metric":
        return _metric(draw)
    if kind in ("start_time", "end_time"):
        return kind
    field = f"params.{quote_key(draw(st.sampled_from(KEYS)))}"
    return f"number({field})" if kind == "number" else field


def _string_field(draw) -> str:
    kind = draw(st.sampled_from(["params", "tags", "status", "user_id", "run_name", "artifact_uri", "run_id"]))
    if kind in ("params", "tags"):
        return f"{kind}.{quote_key(draw(st.sampled_from(KEYS)))}"
    return kind


@st.composite
def comparisons(draw) -> str:
    """One comparison clause of any supported shape."""
    shape = draw(st.sampled_from(["num", "str", "like", "in_num", "in_str", "null", "fields_num", "fields_str"]))
    number = lambda: repr(draw(st.sampled_from(NUMBERS)))  # noqa: E731
    string = lambda: quote_string(draw(st.sampled_from(STRINGS)))  # noqa: E731
    if shape == "num":
        return f"{_number_field(draw)} {draw(st.sampled_from(NUMBER_OPS))} {number()}"
    if shape == "str":
        return f"{_string_field(draw)} {draw(st.sampled_from(['=', '!=']))} {string()}"
    if shape == "like":
        op = draw(st.sampled_from(["LIKE", "ILIKE", "like"]))
        return f"{_string_field(draw)} {op} {quote_string(draw(st.sampled_from(PATTERNS)))}"
    not_ = draw(st.sampled_from(["", "NOT "]))
    if shape == "in_num":
        values = ", ".join(number() for _ in range(draw(st.integers(1, 3))))
        return f"{_number_field(draw)} {not_}IN ({values})"
    if shape == "in_str":
        values = ", ".join(string() for _ in range(draw(st.integers(1, 3))))
        return f"{_string_field(draw)} {not_}IN ({values})"
    if shape == "null":
        field = draw(st.sampled_from([_number_field, _string_field]))(draw)
        return f"{field} IS {not_}NULL"
    if shape == "fields_num":
        return f"{_number_field(draw)} {draw(st.sampled_from(NUMBER_OPS))} {_metric(draw)}"
    return f"{_string_field(draw)} {draw(st.sampled_from(['=', '!=']))} {_string_field(draw)}"


def filters(max_depth: int = 3):
    """Filter strings combining comparisons with AND / OR / NOT and parentheses."""
    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from([" AND ", " OR ", " and ", " or "]), inner).map(
                lambda t: f"{t[0]}{t[1]}{t[2]}"),
            inner.map(lambda s: f"NOT {s}" if s.startswith("(") else f"NOT ({s})"),
            inner.map(lambda s: f"({s})"),
        )
    return st.recursive(comparisons(), extend, max_leaves=6)


ORDER_FIELDS = ["metrics.a", "metrics.b", "min(metrics.a)", "count(metrics.b)", "avg(metrics.a)", "first(metrics.a)",
                "params.a", "number(params.a)", "tags.a", "tags.`a b`", "status", "start_time", "end_time",
                "run_name", "user_id", "run_id", "artifact_uri"]


@st.composite
def order_bys(draw) -> list[str]:
    fields = draw(st.lists(st.sampled_from(ORDER_FIELDS), max_size=3, unique=True))
    return [f"{f} {draw(st.sampled_from(['', 'ASC', 'DESC', 'desc']))}".strip() for f in fields]
