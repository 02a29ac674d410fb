"""search_runs reuses the built statement of a repeated search; results still follow the store."""

from __future__ import annotations

from sqlalchemy import event

from sqltrack import Metric, Param
from sqltrack.api import search
from sqltrack.store import sqlite_path
from sqltrack.store.sqlite_path import select_rows


def _log(client, eid: str, lr: str, acc: float) -> str:
    run_id = client.create_run(eid).info.run_id
    client.log_batch(run_id, metrics=[Metric("acc", acc, 1, 0)], params=[Param("lr", lr)])
    return run_id


def test_a_repeated_search_sees_runs_logged_in_between(client, tmp_path):
    eid = client.create_experiment("e")
    first = _log(client, eid, "0.1", 0.5)
    search._run_search.cache_clear()
    found = client.search_runs([eid], "params.lr = '0.1' AND metrics.acc > 0.1", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [first]
    second = _log(client, eid, "0.1", 0.9)
    _log(client, eid, "0.2", 0.9)
    found = client.search_runs([eid], "params.lr = '0.1' AND metrics.acc > 0.1", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [second, first]
    assert search._run_search.cache_info().hits >= 1


def test_the_cached_statement_serves_another_store(client, tmp_path):
    from sqltrack import Client

    other = Client(tmp_path / "other.db")
    try:
        for c in (client, other):
            eid = c.create_experiment("e")
            run_id = _log(c, eid, "0.3", 0.7)
            assert [r.info.run_id for r in c.search_runs([eid], "params.lr = '0.3'")] == [run_id]
    finally:
        other.close()


def test_a_repeated_search_runs_the_same_paged_statement_with_new_bounds(client, monkeypatch):
    """The snapshot bound, offset and limit are parameters of one statement per plan, not new statements."""
    eid = client.create_experiment("e")
    ids = [_log(client, eid, "0.1", acc / 10) for acc in range(5)]
    executed = []

    def seen(conn, statement, params=None):
        executed.append((statement, params or {}))
        return select_rows(conn, statement, params)

    monkeypatch.setattr(search, "select_rows", seen)
    first = client.search_runs([eid], "params.lr = '0.1'", max_results=2, order_by=["metrics.acc DESC"])
    late = _log(client, eid, "0.1", 0.99)  # after the first page's snapshot: not on the next pages
    rest = client.search_runs([eid], "params.lr = '0.1'", max_results=2, order_by=["metrics.acc DESC"],
                              page_token=first.token)
    pages = [(s, p) for s, p in executed if "top" in p]
    assert len(pages) == 2 and pages[0][0] is pages[1][0]
    assert (pages[0][1]["offset"], pages[1][1]["offset"], pages[0][1]["limit"]) == (0, 2, 3)
    assert [r.info.run_id for r in first] + [r.info.run_id for r in rest] == ids[::-1][:4]
    assert late not in [r.info.run_id for r in rest]


def test_a_repeated_search_on_sqlite_compiles_its_statements_once(store_path):
    from sqltrack import Client

    client = Client(store_path)
    eid = client.create_experiment("e")
    _log(client, eid, "0.1", 0.5)
    sqlite_path._prepare.cache_clear()
    through_sqlalchemy = []
    event.listen(client.store.engine, "before_cursor_execute", lambda *args: through_sqlalchemy.append(args[2]))
    for _ in range(3):
        assert len(client.search_runs([eid], "params.lr = '0.1' AND metrics.acc > 0.1")) == 1
    info = sqlite_path._prepare.cache_info()
    assert info.misses == 3 and info.hits == 6  # the last run's id, the plan's count, the page
    assert through_sqlalchemy == []  # every statement went to the driver
    client.close()
