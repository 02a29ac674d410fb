"""search_runs / search_experiments: the query language on a store, page by page."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from sqlalchemy import Connection, Integer, Select, bindparam, func, select

from ..entities import Experiment, Run
from ..store import Store
from ..store.experiments import parse_experiment_id
from ..store.reads import FrameColumns, load_frame_columns, load_runs
from ..store.schema import experiments, runs
from ..store.sqlite_path import select_rows
from .paging import PagedList, check_max_results, decode_token, encode_token


def _experiment_ids(conn: Connection, experiment_ids) -> list[int]:
    if experiment_ids is None:
        return list(conn.execute(select(experiments.c.experiment_id)).scalars())
    if isinstance(experiment_ids, (str, int)):
        experiment_ids = [experiment_ids]
    return [parse_experiment_id(e) for e in experiment_ids]


@lru_cache(maxsize=256)
def _run_search(filter_string: str | None, order_by: tuple[str, ...], experiment_ids: tuple[int, ...],
                view_type: int, dialect_name: str):
    """The compiled search statement, built once per distinct search.

    Statements are immutable (``.where``/``.limit`` make new ones) and hold no store state:
    keys are bound names resolved by subqueries, so one statement serves every store of a dialect.
    Building costs milliseconds; a UI or a paging loop repeats the same search many times.
    """
    from ..query.search import compile_run_search

    return compile_run_search(filter_string, list(order_by), list(experiment_ids), view_type, dialect_name)


def search_runs(store: Store, experiment_ids, filter_string: str | None, view_type: int,
                max_results: int | None, order_by: Sequence[str] | None,
                page_token: str | None) -> PagedList[Run]:
    """One page of runs; the token's snapshot keeps later pages stable while new runs are logged."""
    limit = check_max_results(max_results)
    offset, snapshot = decode_token(page_token)

    def unit(conn: Connection) -> PagedList[Run]:
        plan, top = _bounded_search(conn, store, experiment_ids, filter_string, view_type, order_by, snapshot)
        page, more = _page(conn, plan, top, offset, limit)
        token = encode_token(offset + len(page), top) if more else None
        return PagedList(load_runs(conn, page), token)

    return store.read(unit)


def search_runs_frame(store: Store, experiment_ids, filter_string: str | None, view_type: int, max_results: int,
                      order_by: Sequence[str] | None, page_size: int = 10_000):
    """Up to max_results matching runs as a pandas DataFrame (``query.frame``'s shape).

    The ids are fetched page by page as the fluent API pages through ``search_runs`` (pages of
    at most page_size, one snapshot), then loaded as columns; all of it in one read.
    """
    from ..query.frame import columns_to_frame

    def unit(conn: Connection) -> FrameColumns:
        plan, top = _bounded_search(conn, store, experiment_ids, filter_string, view_type, order_by, None)
        found: list[int] = []
        while True:
            page, more = _page(conn, plan, top, len(found),
                               check_max_results(min(page_size, max_results - len(found))))
            found += page
            if not more or len(found) >= max_results:
                return load_frame_columns(conn, found)

    return columns_to_frame(store.read(unit))


def _bounded_search(conn: Connection, store: Store, experiment_ids, filter_string: str | None, view_type: int,
                    order_by: Sequence[str] | None, snapshot: int | None) -> tuple[Select, int]:
    """The plan to run for the search, and the last run it may return (the current last run when no snapshot)."""
    ids = _experiment_ids(conn, experiment_ids)
    top = snapshot if snapshot is not None else select_rows(conn, _LAST_RUN)[0][0] or 0
    search = _run_search(filter_string, tuple(order_by or ()), tuple(ids), view_type, store.dialect_name)
    return search.choose(conn), top


_LAST_RUN = select(func.max(runs.c.id))


@lru_cache(maxsize=1024)
def _paged(plan: Select, limited: bool) -> Select:
    """A plan bounded by the snapshot and paged, with the bounds as parameters.

    Built once per plan: a statement made anew per call costs SQLAlchemy its construction
    and a cache-key walk every time (≈ 0.5 ms a search); the SQL sent is the same.
    """
    query = plan.where(runs.c.id <= bindparam("top", type_=Integer)).offset(bindparam("offset", type_=Integer))
    return query.limit(bindparam("limit", type_=Integer)) if limited else query


def _page(conn: Connection, plan: Select, top: int, offset: int, limit: int | None) -> tuple[list[int], bool]:
    """The run ids of one page (runs up to ``top``), and whether more follow."""
    bounds = {"top": top, "offset": offset}
    if limit is not None:
        bounds["limit"] = limit + 1
    found = [rid for rid, in select_rows(conn, _paged(plan, limit is not None), bounds)]
    more = limit is not None and len(found) > limit
    return (found[:limit] if limit is not None else found), more


def search_experiments(store: Store, view_type: int, max_results: int | None, filter_string: str | None,
                       order_by: Sequence[str] | None, page_token: str | None) -> PagedList[Experiment]:
    """One page of experiments matching MLflow's experiment filter syntax."""
    from ..query.experiments import build_experiment_search
    from ..store.experiments import load_experiments

    limit = check_max_results(max_results)
    offset, _ = decode_token(page_token)

    def unit(conn: Connection) -> tuple[list[Experiment], bool]:
        query = build_experiment_search(filter_string, list(order_by or []), view_type, store.dialect_name)
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit + 1)
        found = list(conn.execute(query).scalars())
        page = found[:limit] if limit is not None else found
        return load_experiments(conn, page), limit is not None and len(found) > limit

    page, more = store.read(unit)  # the page is read in the search's own snapshot
    token = encode_token(offset + len(page), 0) if more else None
    return PagedList(page, token)
