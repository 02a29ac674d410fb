"""The dialect table: each backend's spelling of exact LIKE/equality and ordering, golden-tested."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.dialects import mysql, postgresql, sqlite

from sqltrack.entities import ViewType
from sqltrack.errors import InvalidParameter
from sqltrack.query.dialects import DIALECTS, dialect_rules, like_to_glob
from sqltrack.query.search import build_run_search

_DIALECTS = {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect(), "mysql": mysql.dialect(),
             "mariadb": mysql.dialect()}


def sql(filter_string, dialect, order_by=None) -> str:
    query = build_run_search(filter_string, order_by, [1], ViewType.ACTIVE_ONLY, dialect)
    text = str(query.compile(dialect=_DIALECTS[dialect], compile_kwargs={"literal_binds": True}))
    if dialect != "sqlite":  # pyformat drivers double a literal %
        text = text.replace("%%", "%")
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("pattern, glob", [
    ("a%", "a*"), ("_b", "?b"), ("%[x]%", "*[[]x]*"), ("a*b?", "a[*]b[?]"), ("100%", "100*"), ("", ""),
])
def test_like_to_glob(pattern, glob):
    assert like_to_glob(pattern) == glob


@pytest.mark.parametrize("dialect, fragments", [
    ("sqlite", ["tags_1.value GLOB 'a[*]*'"]),
    ("postgresql", ["tags_1.value LIKE 'a*%'"]),
    ("mysql", ["tags_1.value LIKE 'a*%' AND (tags_1.value COLLATE utf8mb4_bin) LIKE 'a*%'"]),
])
def test_case_sensitive_like(dialect, fragments):
    text = sql("tags.t LIKE 'a*%'", dialect)
    for fragment in fragments:
        assert fragment in text


@pytest.mark.parametrize("dialect, fragment", [
    ("sqlite", "lower(tags_1.value) LIKE lower('a%')"),
    ("postgresql", "tags_1.value ILIKE 'a%'"),
    ("mysql", "(lower(tags_1.value) COLLATE utf8mb4_bin) LIKE lower('a%')"),
])
def test_case_insensitive_like(dialect, fragment):
    assert fragment in sql("tags.t ILIKE 'a%'", dialect)


def test_backslash_is_literal_in_like_where_it_would_escape():
    assert r"LIKE 'a\\%'" in sql(r"tags.t LIKE 'a\%'", "postgresql")
    assert r"GLOB 'a\*'" in sql(r"tags.t LIKE 'a\%'", "sqlite")


def test_mysql_equality_is_binary():
    assert "params_1.value = 'x' AND params_1.value = CAST('x' AS BINARY)" in sql("params.p = 'x'", "mysql")


def test_ordering_per_dialect():
    assert "params_1.value COLLATE \"C\" ASC" in sql(None, "postgresql", ["params.p"])
    assert "runs.start_time DESC NULLS LAST" in sql(None, "postgresql")
    assert "params_1.value ASC NULLS LAST" in sql(None, "sqlite", ["params.p"])
    assert "CASE WHEN (params_1.value IS NULL) THEN 1 ELSE 0 END" in sql(None, "mysql", ["params.p"])
    assert "latest_metrics_1.kind = 2" in sql(None, "mysql", ["metrics.m"])  # ±inf kept apart from max-float


def test_keys_and_values_are_bound_never_inlined():
    query = build_run_search("tags.`x'; DROP TABLE runs; --` = 'y\"; --'", ["params.`a b` DESC"], [1],
                             ViewType.ACTIVE_ONLY, "sqlite")
    compiled = query.compile(dialect=sqlite.dialect())
    assert "DROP" not in str(compiled) and "a b" not in str(compiled)
    assert "x'; DROP TABLE runs; --" in compiled.params.values()


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_every_dialect_compiles_every_construct(dialect):
    text = ("metrics.a > 1 AND (params.b < 0.5 OR tags.c ILIKE 'x%') AND NOT status IN ('A', 'B') "
            "AND min(metrics.a) <= metrics.b AND params.d IS NULL AND end_time IS NOT NULL "
            "AND params.e = tags.f AND run_id NOT IN ('x')")
    assert "SELECT runs.id" in sql(text, dialect, ["metrics.a DESC", "number(params.b)", "tags.c", "end_time"])


def test_unknown_dialect():
    with pytest.raises(InvalidParameter, match="supported: mariadb, mysql, postgresql, sqlite"):
        dialect_rules("oracle")
