"""Property tests: SQL search agrees with the reference evaluator; junk input fails only cleanly."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqltrack.entities import ViewType
from sqltrack.errors import FilterSyntaxError
from sqltrack.query import parse_filter, parse_order_by
from sqltrack.query.search import compile_run_search

from . import reference
from .corpus import load_cases
from .store_builder import build_store, golden_runs
from .strategies import filters, order_bys, stores

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sql_labels(engine, runs, filter_string, order_by) -> list[str]:
    """The labels every SQLite plan of the search selects, which must agree (see query.search)."""
    search = compile_run_search(filter_string, order_by, [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        found = [[runs[i - 1].label for i in conn.execute(plan).scalars()] for plan in search.plans()]
    assert all(labels == found[0] for labels in found), (filter_string, order_by, found)
    return found[0]


def _reference_labels(runs, filter_string, order_by) -> list[str]:
    found = reference.search(runs, parse_filter(filter_string), parse_order_by(order_by))
    return [r.label for r in found]


@SETTINGS
@given(runs=stores(), cases=st.lists(st.tuples(filters(), order_bys()), min_size=4, max_size=12))
def test_sql_matches_reference(runs, cases):
    engine = build_store(None, runs)
    try:
        for filter_string, order_by in cases:
            expected = _reference_labels(runs, filter_string, order_by)
            assert _sql_labels(engine, runs, filter_string, order_by) == expected, (filter_string, order_by)
    finally:
        engine.dispose()


def _check_clean(engine, runs, text: str, order_by: list[str] | None = None) -> None:
    """Either the search runs, or it raises FilterSyntaxError: nothing else reaches the user."""
    try:
        labels = _sql_labels(engine, runs, text, order_by)
    except FilterSyntaxError as exc:
        assert 0 <= exc.position <= len(exc.filter)
        return
    assert labels == _reference_labels(runs, text, order_by)


_GOLDEN = golden_runs()
_SEEDS = [c.filter for c in load_cases() if c.filter]
_SYNTAX = "()'\"`.,=<>!%_ -+eE0123456789abcANDORNOTINISNULLmetricsparamstags"


@st.composite
def mutated(draw) -> str:
    text = list(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(_SYNTAX))
        if action == "insert":
            text.insert(i, char)
        elif text and i < len(text):
            if action == "delete":
                del text[i]
            else:
                text[i] = char
    return "".join(text)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=60), mutated()))
def test_junk_raises_only_filter_syntax_error(golden_engine, text):
    _check_clean(golden_engine, _GOLDEN, text)


@settings(max_examples=150, deadline=None)
@given(clauses=st.lists(st.one_of(st.text(max_size=30), st.sampled_from(_SEEDS)), max_size=3))
def test_junk_order_by_raises_only_filter_syntax_error(golden_engine, clauses):
    _check_clean(golden_engine, _GOLDEN, "", clauses)
