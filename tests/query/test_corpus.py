"""The golden corpus: each case selects exactly the expected runs in order, or fails as expected."""

from __future__ import annotations

import pytest

from sqltrack.entities import ViewType
from sqltrack.errors import FilterSyntaxError
from sqltrack.query import parse_filter, parse_order_by
from sqltrack.query.search import build_run_search, compile_run_search

from . import reference
from .corpus import load_cases

CASES = load_cases()
STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


def _labels_from_sql(engine, runs, case) -> list[str]:
    """The labels every SQLite plan of the search selects; they must all agree (see query.search)."""
    search = compile_run_search(case.filter, case.order_by, case.experiments, ViewType[case.view], "sqlite")
    with engine.connect() as conn:
        found = [[runs[i - 1].label for i in conn.execute(plan).scalars()]
                 for plan in [search.choose(conn), *search.plans()]]
    assert all(labels == found[0] for labels in found), (case.id, found)
    return found[0]


def _labels_from_reference(runs, case) -> list[str]:
    found = reference.search(runs, parse_filter(case.filter), parse_order_by(case.order_by),
                             experiment_ids=case.experiments, stages=STAGES[case.view])
    return [r.label for r in found]


@pytest.mark.parametrize("case", [c for c in CASES if c.expect is not None], ids=lambda c: c.id)
def test_selects_expected_runs(golden_store, case):
    engine, runs = golden_store
    assert _labels_from_sql(engine, runs, case) == case.expect
    assert _labels_from_reference(runs, case) == case.expect


@pytest.mark.parametrize("case", [c for c in CASES if c.error is not None], ids=lambda c: c.id)
def test_fails_as_expected(case):
    with pytest.raises(FilterSyntaxError) as info:
        build_run_search(case.filter, case.order_by, case.experiments, ViewType[case.view], "sqlite")
    assert case.error in info.value.reason
    if case.position is not None:
        assert info.value.position == case.position


def test_corpus_covers_every_spec_example():
    filters = {c.filter for c in CASES}
    for example in ("metrics.mse < 0.2 and params.pca_var = '0.9'", "tags.owner IS NULL",
                    "metrics.cross-entropy-loss < 0.5", "metrics.acc IS NULL"):
        assert example in filters
