"""Grammar and parse entry points: structured errors, spans, keywords, limits, caching."""

from __future__ import annotations

import pytest

from sqltrack.errors import FilterSyntaxError
from sqltrack.query import ast, grammar, parse_filter, parse_order_by
from sqltrack.query.parse import MAX_CLAUSES, MAX_FILTER_CHARS, MAX_NESTING


def _error(text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    return info.value


def test_error_carries_position_line_and_column():
    err = _error("metrics.a > 1 AND\n  params.b >> 'x'")
    assert (err.position, err.line, err.col) == (30, 2, 13)
    assert err.filter == "metrics.a > 1 AND\n  params.b >> 'x'"
    assert err.highlight == "    params.b >> 'x'\n              ^"
    assert "(line 2, column 13)" in str(err)
    assert err.reason.startswith("expected value")


def test_error_is_a_value_error_with_caret_message():
    err = _error("metrics.a >")
    assert isinstance(err, ValueError)
    assert str(err).endswith("  metrics.a >\n             ^")


@pytest.mark.parametrize("text, position, fragment", [
    ("metrcs.acc > 1", 0, "did you mean metrics.?"),
    ("paramz.lr = 'x'", 0, "did you mean params.?"),
    ("tag.a = 'x' AND attributs.status = 'x'", 16, "did you mean attributes.?"),
    ("metrics.acc LIKE 'x'", 17, "is a number"),
    ("tags.t < 'x'", 7, "use one of =, !=, LIKE, ILIKE"),
    ("metrics.a >= 'x'", 13, "expected a numeric value"),
    ("status > 3", 9, "quote the value"),
    ("params.a LIKE params.b", 14, "needs a quoted pattern"),
    ("metrics.a > params.b AND tags.x = metrics.y", 32, "cannot compare a number with a string field"),
    ("tags.a < tags.b", 7, "use one of =, !="),
    ("count(tags.a) > 1", 6, "takes a metric"),
    ("number(metrics.a) > 1", 7, "takes a param"),
    ("datasets.size = 'x'", 0, "unknown dataset key"),
])
def test_semantic_errors_point_at_the_culprit(text, position, fragment):
    err = _error(text)
    assert fragment in err.reason
    assert err.position == position


@pytest.mark.parametrize("text", ["metrics.a > 1 and params.b = 'x'", "metrics.a > 1 AnD params.b = 'x'"])
def test_keywords_are_case_insensitive(text):
    node = parse_filter(text)
    assert isinstance(node, ast.And) and len(node.items) == 2


def test_precedence_not_and_or():
    node = parse_filter("NOT metrics.a > 1 AND metrics.b > 1 OR metrics.c > 1")
    assert isinstance(node, ast.Or)
    left, right = node.items
    assert isinstance(left, ast.And) and isinstance(left.items[0], ast.Not)
    assert isinstance(right, ast.Compare)


def test_spans_cover_the_source_text():
    text = "params.`a b` IN ('x', 'y') AND min(metrics.loss) <= 0.5"
    node = parse_filter(text)
    first, second = node.items
    assert text[first.span.start:first.span.end] == "params.`a b` IN ('x', 'y')"
    assert text[second.span.start:second.span.end] == "min(metrics.loss) <= 0.5"
    assert text[second.op_span.start:second.op_span.end] == "<="
    assert text[second.left.span.start:second.left.span.end] == "min(metrics.loss)"


@pytest.mark.parametrize("text, prefix, key", [
    ("metrics.a.b > 1", "metrics", "a.b"),
    ('metrics."accuracy.2.0" > 1', "metrics", "accuracy.2.0"),
    ("metrics.`spacey name` > 1", "metrics", "spacey name"),
    ("metrics.'a b' > 1", "metrics", "a b"),
    ("`metrics`.a > 1", "metrics", "a"),
    ("params.1st = 'x'", "params", "1st"),
    ("metrics.select > 1", "metrics", "select"),
    ("metrics.`a/b` > 1", "metrics", "a/b"),
])
def test_key_quoting(text, prefix, key):
    node = grammar.filter_string.parse_string(text, parse_all=True)[0]
    assert (node.left.prefix, node.left.key) == (prefix, key)


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("-1", -1), ("0.94", 0.94), (".5", 0.5), ("-.5", -0.5), ("1.", 1.0), ("1e-3", 1e-3),
    ("1E5", 1e5), ("-1.5e-3", -1.5e-3), ("1e+16", 1e16), ("+1", 1),
])
def test_numbers(text, value):
    node = parse_filter(f"metrics.a = {text}")
    assert node.right.value == value and type(node.right.value) is type(value)


def test_strings_are_not_unescaped_like_mlflow():
    assert parse_filter("params.a = 'it''s'").right.value == "it''s"
    assert parse_filter(r"params.a = 'a\'b'").right.value == r"a\'b"
    assert parse_filter('params.a = "L\'Hosp"').right.value == "L'Hosp"
    assert parse_filter("params.a = ''").right.value == ""


def test_empty_and_and_only_filters_match_everything():
    assert parse_filter(None) is None
    assert parse_filter("") is None
    assert parse_filter("  AND  and ") is None


def test_limits():
    assert _error("x" * (MAX_FILTER_CHARS + 1)).position == MAX_FILTER_CHARS
    nested = "(" * (MAX_NESTING + 1) + "metrics.a > 1" + ")" * (MAX_NESTING + 1)
    assert "nest" in _error(nested).reason
    many = " AND ".join(f"metrics.m{i} > 1" for i in range(MAX_CLAUSES + 1))
    assert "clauses" in _error(many).reason
    assert "must be a string" in _error(42).reason


def test_parse_is_cached():
    assert parse_filter("metrics.cached > 1") is parse_filter("metrics.cached > 1")


def test_order_by_clauses():
    terms = parse_order_by(["metrics.`a b` DESC", "params.x asc", "created", "number(params.lr)"])
    assert [t.descending for t in terms] == [True, False, False, False]
    assert terms[2].operand.key == "start_time"
    assert isinstance(terms[3].operand, ast.Func)
    assert parse_order_by(None) == [] and parse_order_by([]) == []


def test_order_by_errors_are_structured():
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(["metrics.a", "metrics.b DESC NULLS LAST"])
    assert info.value.filter == "metrics.b DESC NULLS LAST" and info.value.position == 15
    with pytest.raises(FilterSyntaxError, match="list of strings"):
        parse_order_by("metrics.a")


def test_last_is_the_metric_itself():
    assert parse_order_by(["last(metrics.a)"])[0].operand.kind == "metric"
    with pytest.raises(FilterSyntaxError, match="duplicate"):
        parse_order_by(["last(metrics.a)", "metrics.a DESC"])
