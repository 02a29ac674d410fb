"""On SQLite a search picks its plan when it runs (query.search.RunSearch.choose).

A store with more runs than DRIVER_PROBE_CAP: a clause matching a handful of runs must lead
the search (not the scope index), a clause matching most runs under the default order must
walk the scope index and stop at the limit, and every plan must select the same runs.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from sqltrack.entities import ViewType
from sqltrack.query.compiler import DRIVER_PROBE_CAP, PROBE_CAPS
from sqltrack.query.search import compile_run_search

from .reference import RUN_NAME_TAG, RunSpec
from .store_builder import build_store

RUNS = DRIVER_PROBE_CAP + 500
RARE = {7, 1500, RUNS - 3}


def _spec(i: int) -> RunSpec:
    label = f"r{i}"
    return RunSpec(label, f"{i:032x}", start_time=1000 + i, lifecycle_stage="deleted" if i % 97 == 0 else "active",
                   params={"kind": "rare" if i in RARE else "common"}, tags={RUN_NAME_TAG: label},
                   metrics={"m": [(0, 10, (i * 37 % 1000) / 1000)]})


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    runs = [_spec(i) for i in range(1, RUNS + 1)]
    engine = build_store(tmp_path_factory.mktemp("plans") / "store.db", runs)
    yield engine, runs
    engine.dispose()


def _run(conn, statement, runs, limit: int) -> list[str]:
    return [runs[i - 1].label for i in conn.execute(statement.limit(limit)).scalars()]


def _plan_text(conn, statement, limit: int) -> str:
    compiled = statement.limit(limit).compile(conn, compile_kwargs={"literal_binds": True})
    return "\n".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def _expected(runs, keep, order=None, limit: int = 10) -> list[str]:
    active = [r for r in runs if r.lifecycle_stage == "active" and keep(r)]
    active.sort(key=order or (lambda r: (-r.start_time, r.uuid)))
    return [r.label for r in active[:limit]]


def test_a_rare_clause_leads_the_search(big_store):
    engine, runs = big_store
    search = compile_run_search("params.kind = 'rare'", [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        chosen = search.choose(conn)
        assert chosen in search.driven
        assert "ix_runs_experiment_start" not in _plan_text(conn, chosen, 10)
        assert _run(conn, chosen, runs, 10) == _expected(runs, lambda r: r.params["kind"] == "rare")


@pytest.mark.parametrize("filter_string, leading, probed", [
    ("params.kind = 'common' AND metrics.m > 0.995", "latest_metrics", "params"),
    ("metrics.m > 0.1 AND params.kind = 'rare'", "params", "latest_metrics"),
])
def test_the_and_clause_with_fewest_rows_leads_without_its_own_probe(big_store, filter_string, leading, probed):
    engine, runs = big_store
    search = compile_run_search(filter_string, [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    assert len(search.driven) == 2
    with engine.connect() as conn:
        chosen = search.choose(conn)
        assert chosen in search.driven
        sql = str(chosen.compile(conn))
        assert sql.count("EXISTS") == 1, "only the clause that does not lead is probed"
        assert re.search(rf"EXISTS \(SELECT \w+\.run_id\s+FROM {probed} ", sql)
        assert re.search(rf"runs\.id IN \(SELECT \w+\.run_id\s+FROM {leading} ", sql)
        plan = _plan_text(conn, chosen, 10)
        assert "ix_runs_experiment_start" not in plan
        expected = _expected(runs, lambda r: _matches(filter_string, r))
        assert expected and _run(conn, chosen, runs, 10) == expected


def _matches(filter_string: str, run: RunSpec) -> bool:
    value = run.metrics["m"][0][2]
    if "'rare'" in filter_string:
        return run.params["kind"] == "rare" and value > 0.1
    return run.params["kind"] == "common" and value > 0.995


def test_a_common_clause_walks_the_scope_index_in_order(big_store):
    engine, runs = big_store
    search = compile_run_search("params.kind = 'common'", [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        chosen = search.choose(conn)
        assert chosen is search.walked
        plan = _plan_text(conn, chosen, 10)
        assert "ix_runs_experiment_start" in plan and "LIST SUBQUERY" not in plan
        assert _run(conn, chosen, runs, 10) == _expected(runs, lambda r: r.params["kind"] == "common")


def test_a_common_clause_under_another_order_keeps_the_plain_plan(big_store):
    engine, runs = big_store
    search = compile_run_search("metrics.m >= 0.0", ["metrics.m DESC"], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        assert search.choose(conn) is search.statement
        expected = _expected(runs, lambda r: True, order=lambda r: (-r.metrics["m"][0][2], -r.start_time, r.uuid))
        assert _run(conn, search.statement, runs, 10) == expected


@pytest.mark.parametrize("filter_string, order_by", [
    ("params.kind = 'rare' OR metrics.m > 0.995", []),
    ("params.kind = 'common' AND metrics.m < 0.01", ["metrics.m"]),
    ("params.kind = 'rare' AND metrics.m > 0.1", []),
    ("metrics.m > 0.5 AND NOT params.kind = 'rare'", ["attributes.start_time"]),
])
def test_every_plan_selects_the_same_page(big_store, filter_string, order_by):
    engine, runs = big_store
    search = compile_run_search(filter_string, order_by, [1], ViewType.ACTIVE_ONLY, "sqlite")
    assert len(search.plans()) >= 2
    with engine.connect() as conn:
        pages = [_run(conn, plan.offset(1), runs, 50) for plan in search.plans()]
    assert pages[0] and all(page == pages[0] for page in pages)


def test_an_or_of_two_ands_each_choosing_its_driver_at_run_time(big_store):
    """Each AND of several clauses gets an adaptive driver, with its own choice CTE: two in one
    statement used to fail to compile ("Multiple, unrelated CTEs found with the same name")."""
    engine, runs = big_store
    filter_string = ("(params.kind = 'rare' AND metrics.m > 0.1) OR "
                     "(params.kind = 'common' AND metrics.m > 0.995)")
    search = compile_run_search(filter_string, [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    expected = _expected(runs, lambda r: _matches("'rare'", r) or _matches("", r), limit=50)
    with engine.connect() as conn:
        sql = str(search.statement.compile(conn))
        assert sql.count("MATERIALIZED") == 2
        assert len(expected) > len(RARE) and _run(conn, search.choose(conn), runs, 50) == expected
        for plan in search.plans():
            assert _run(conn, plan, runs, 50) == expected


def _counts_sent(conn, search) -> tuple[object, list[str]]:
    """The plan ``search.choose`` picks, and the capped counts it sent to SQLite to pick it."""
    sent: list[str] = []
    driver = conn.connection.driver_connection
    driver.set_trace_callback(sent.append)
    try:
        chosen = search.choose(conn)
    finally:
        driver.set_trace_callback(None)
    return chosen, [sql for sql in sent if "count(" in sql.lower()]


def test_a_count_under_the_first_cap_decides_alone(big_store):
    engine, runs = big_store
    search = compile_run_search("metrics.m > 0.1 AND params.kind = 'rare'", [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        chosen, counts = _counts_sent(conn, search)
        assert len(counts) == 1 and chosen in search.driven
        assert re.search(r"runs\.id IN \(SELECT \w+\.run_id\s+FROM params ", str(chosen.compile(conn)))


def test_counts_between_the_caps_are_counted_again_up_to_the_full_cap(big_store):
    """About 250 runs have m > 0.9: more than the first cap, so only the second count finds
    that this clause is far smaller than 'common' (about 2,470) and lets it lead."""
    engine, runs = big_store
    assert PROBE_CAPS[0] < sum(r.metrics["m"][0][2] > 0.9 for r in runs) < DRIVER_PROBE_CAP
    filter_string = "params.kind = 'common' AND metrics.m > 0.9"
    search = compile_run_search(filter_string, [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        chosen, counts = _counts_sent(conn, search)
        assert len(counts) == 2 and chosen in search.driven
        assert re.search(r"runs\.id IN \(SELECT \w+\.run_id\s+FROM latest_metrics ", str(chosen.compile(conn)))
        keep = lambda r: r.params["kind"] == "common" and r.metrics["m"][0][2] > 0.9  # noqa: E731
        assert _run(conn, chosen, runs, 10) == _expected(runs, keep)


def test_an_or_under_the_first_cap_decides_alone(big_store):
    engine, runs = big_store
    search = compile_run_search("params.kind = 'rare' OR metrics.m > 0.995", [], [1], ViewType.ACTIVE_ONLY, "sqlite")
    with engine.connect() as conn:
        chosen, counts = _counts_sent(conn, search)
    assert chosen is search.driven[0] and len(counts) == 1
