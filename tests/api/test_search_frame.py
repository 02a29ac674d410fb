"""search_runs(output_format="pandas") loads columns directly: the same frame as runs_to_frame of the runs.

Runs on every backend the ``fluent`` fixture provides (tests/conftest.py): SQLite takes the
json_each/numpy path of ``store.reads.load_frame_columns``, the servers the portable one.
"""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from sqltrack import Metric, Param, RunTag
from sqltrack.api import search
from sqltrack.entities import ViewType
from sqltrack.query.frame import runs_to_frame

_SPECIAL = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, -1e-300]
_KEYS = ["loss", "acc", "ünïcødé", "名前", "a b/c.d-e", "z", "späte"]
_SEARCHES = [("", None), ("", ["metrics.loss DESC"]), ("metrics.acc > 0.3", ["metrics.acc ASC", "params.z"]),
             ("params.loss != 'x'", ["metrics.`ünïcødé` DESC"]), ("tags.z LIKE '%'", ["start_time ASC"])]


def _value(rng: random.Random) -> float:
    return rng.choice(_SPECIAL) if rng.random() < 0.3 else rng.uniform(-1, 1)


def _random_store(client, rng: random.Random) -> list[str]:
    """Two or three experiments of runs with random subsets of keys; keys get created in a random order."""
    experiments = [client.create_experiment(f"e{i}") for i in range(rng.randint(2, 3))]
    keys = _KEYS[:]
    rng.shuffle(keys)
    for index in range(rng.randint(0, 14)):
        run_id = client.create_run(rng.choice(experiments), start_time=rng.choice([None, 1_000 + index, 5_000]),
                                   run_name=f"r{index}").info.run_id
        late = keys[:2 + index // 3]  # later runs bring keys never seen before
        client.log_batch(run_id,
                         metrics=[Metric(k, _value(rng), 10, rng.randint(0, 3)) for k in late if rng.random() < 0.6],
                         params=[Param(k, rng.choice(["x", "0.5", "ß", ""])) for k in late if rng.random() < 0.5],
                         tags=[RunTag(k, f"t{index}") for k in late if rng.random() < 0.4])
        if rng.random() < 0.5:
            client.set_terminated(run_id, end_time=9_000 + index)
        if rng.random() < 0.15:
            client.delete_run(run_id)
    return experiments


def _assert_same_frames(fluent, experiments, filter_string, order_by, **kw) -> pd.DataFrame:
    frame = fluent.search_runs(experiments, filter_string, order_by=order_by, **kw)
    runs = fluent.search_runs(experiments, filter_string, order_by=order_by, output_format="list", **kw)
    pd.testing.assert_frame_equal(frame, runs_to_frame(runs), check_dtype=True, check_column_type=True,
                                  check_exact=True)
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_frame_equals_the_frame_of_the_runs(fluent, seed):
    rng = random.Random(seed)
    experiments = _random_store(fluent.get_client(), rng)
    for filter_string, order_by in _SEARCHES:
        _assert_same_frames(fluent, experiments, filter_string, order_by)
        _assert_same_frames(fluent, experiments[:1], filter_string, order_by, max_results=3)
    _assert_same_frames(fluent, experiments, "", None, run_view_type=ViewType.ALL)
    _assert_same_frames(fluent, experiments, "", None, run_view_type=ViewType.DELETED_ONLY)


def test_special_values_and_key_order(fluent):
    client = fluent.get_client()
    eid = client.create_experiment("e")
    first = client.create_run(eid, start_time=2).info.run_id
    second = client.create_run(eid, start_time=1).info.run_id
    client.log_batch(second, metrics=[Metric("late", -0.0, 1, 0), Metric("b", math.inf, 1, 0)])
    client.log_batch(first, metrics=[Metric("a", math.nan, 1, 0), Metric("b", -math.inf, 1, 0)],
                     params=[Param("p", "1")])
    frame = _assert_same_frames(fluent, [eid], "", None)
    # the first run's keys in key id order (b was created before a), then the second run's new key
    assert list(frame.columns[6:]) == ["metrics.b", "metrics.a", "metrics.late", "params.p", "tags.mlflow.runName"]
    assert list(frame["run_id"]) == [first, second]
    assert math.isnan(frame["metrics.late"][0]) and math.copysign(1.0, frame["metrics.late"][1]) < 0
    assert list(frame["metrics.b"]) == [-math.inf, math.inf] and math.isnan(frame["metrics.a"][0])
    assert frame["params.p"][0] == "1" and pd.isna(frame["params.p"][1])


def test_pages_of_the_frame_are_the_pages_of_the_search(fluent):
    client = fluent.get_client()
    eid = client.create_experiment("e")
    for index in range(7):
        run_id = client.create_run(eid, start_time=index % 3).info.run_id
        client.log_metric(run_id, f"m{index % 4}", float(index), timestamp=1)
    runs = fluent.search_runs([eid], order_by=["metrics.m1 DESC"], max_results=5, output_format="list")
    frame = search.search_runs_frame(client.store, [eid], "", ViewType.ACTIVE_ONLY, 5, ["metrics.m1 DESC"],
                                     page_size=2)
    pd.testing.assert_frame_equal(frame, runs_to_frame(runs), check_exact=True)


def test_no_run_objects_are_built(fluent, monkeypatch):
    client = fluent.get_client()
    eid = client.create_experiment("e")
    run_id = client.create_run(eid).info.run_id
    client.log_param(run_id, "p", "v")
    monkeypatch.setattr(search, "load_runs", lambda *a: pytest.fail("the frame went through Run objects"))
    frame = fluent.search_runs([eid])
    assert list(frame["params.p"]) == ["v"]


def test_empty_and_invalid(fluent):
    eid = fluent.get_client().create_experiment("e")
    frame = _assert_same_frames(fluent, [eid], "", None)
    assert list(frame.columns) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    with pytest.raises(Exception) as pandas_error:
        fluent.search_runs([eid], max_results=0)
    with pytest.raises(Exception) as list_error:
        fluent.search_runs([eid], max_results=0, output_format="list")
    assert type(pandas_error.value) is type(list_error.value)


def test_ids_that_are_not_runs_are_left_out(client):
    from sqlalchemy import select

    from sqltrack.store.reads import load_frame_columns
    from sqltrack.store.schema import runs

    eid = client.create_experiment("e")
    run_ids = [client.create_run(eid).info.run_id for _ in range(3)]
    for index, run_id in enumerate(run_ids):
        client.log_batch(run_id, metrics=[Metric("m", float(index), 1, 0)], params=[Param(f"p{index}", "v")])

    def unit(conn):
        internal = [conn.execute(select(runs.c.id).where(runs.c.run_uuid == r)).scalar_one() for r in run_ids]
        return load_frame_columns(conn, [internal[2], 10_000, internal[0]])

    columns = client.store.read(unit)
    assert columns.info["run_id"] == [run_ids[2], run_ids[0]]
    assert list(columns.metrics["m"]) == [2.0, 0.0]
    assert list(columns.params) == ["p2", "p0"] and columns.params["p0"] == [None, "v"]


@pytest.mark.parametrize("base", [0, 1 << 20], ids=["16-bit key ids", "large key ids"])
def test_scattered_places_values_whatever_the_key_ids(base):
    from sqltrack.store.reads import _scattered

    pos, kids = [2, 0, 1, 0, 2], [base + 5, base + 5, base + 3, base + 3, base + 9]
    numbers = _scattered(3, pos, kids, [1.0, 2.0, 3.0, 4.0, -0.0], True)
    assert list(numbers) == [base + 3, base + 5, base + 9]  # 3 and 5 first seen at position 0: key id order
    expected = [[4.0, 3.0, math.nan], [2.0, math.nan, 1.0], [math.nan, math.nan, -0.0]]
    assert [str(c.tolist()) for c in numbers.values()] == [str(e) for e in expected]
    assert math.copysign(1.0, numbers[base + 9][2]) < 0
    strings = _scattered(3, pos, kids, ["a", "b", "c", "d", "e"], False)
    assert strings == {base + 3: ["d", "c", None], base + 5: ["b", None, "a"], base + 9: [None, None, "e"]}
    assert _scattered(3, [], [], [], True) == {}


@pytest.mark.sqlite_only
def test_values_too_long_for_one_json_text_take_the_portable_path(client):
    """An SQLite whose length limit the params' JSON text would pass: the same columns, read row by row."""
    import sqlite3

    from sqlalchemy import select

    from sqltrack.store.reads import load_frame_columns
    from sqltrack.store.schema import runs

    eid = client.create_experiment("e")
    run_ids = [client.create_run(eid).info.run_id for _ in range(3)]
    for index, run_id in enumerate(run_ids):
        client.log_batch(run_id, params=[Param("long", "x" * 600 + str(index))], tags=[RunTag("t", "ß")])

    def unit(conn):
        raw = conn.connection.driver_connection
        before = raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000)  # one value fits, the three together do not
        try:
            internal = conn.execute(select(runs.c.id).where(runs.c.run_uuid.in_(run_ids))).scalars().all()
            return load_frame_columns(conn, sorted(internal))
        finally:
            raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, before)

    columns = client.store.read(unit)
    assert columns.params["long"] == ["x" * 600 + str(i) for i in range(3)]
    assert columns.tags["t"] == ["ß"] * 3
