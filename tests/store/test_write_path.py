"""The fast write path (sorted inserts, column-wise validation, insert-first params) keeps every guarantee."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from sqltrack import Metric, Param, RunTag
from sqltrack.errors import InvalidParameter, ParamConflict
from sqltrack.store.batch import prepare_points
from sqltrack.store.schema import key_names, latest_metrics, metrics, params


def _latest_row(client, run_id: str, key: str):
    rid = client.store.cached_run_id(run_id)
    return client.store.read(lambda c: c.execute(
        select(latest_metrics).join(key_names, key_names.c.id == latest_metrics.c.key_id)
        .where(key_names.c.name == key, latest_metrics.c.run_id == rid)).one())


def _same(a: float, b: float) -> bool:
    """Equal as stored values: NaN equals NaN, and the sign of zero counts."""
    if a != a or b != b:
        return a != a and b != b
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("values", [(math.nan, 0.0), (0.0, math.nan), (-0.0, 0.0), (0.0, -0.0),
                                    (math.nan, -0.0), (-0.0, math.nan)])
def test_tied_points_keep_the_first_logged_as_latest_and_first(client, values):
    """Points with equal (step, timestamp, value-with-NaN-as-0) tie; MLflow keeps the first logged."""
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", v, 5, 1) for v in values])
    assert _same(client.get_run(run_id).data.metrics["m"], values[0])
    row = _latest_row(client, run_id, "m")
    assert row.count == 2
    assert row.first_kind == _kind(values[0])


def _kind(value: float) -> int:
    from sqltrack.store.values import encode_metric

    return encode_metric(value)[1]


def test_tie_across_batches_keeps_the_stored_point(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", math.nan, 5, 1)])
    client.log_batch(run_id, metrics=[Metric("m", 0.0, 5, 1)])
    assert math.isnan(client.get_run(run_id).data.metrics["m"])


def test_points_logged_out_of_order_are_stored_exactly(client):
    run_id = client.create_run("0").info.run_id
    logged = [(3, 9.5), (1, -0.0), (2, math.inf), (0, math.nan), (4, -math.inf), (5, 1e-308)]
    client.log_batch(run_id, metrics=[Metric("m", v, 100 + s, s) for s, v in logged])
    history = client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == [0, 1, 2, 3, 4, 5]
    for point, (step, value) in zip(history, sorted(logged), strict=True):
        assert point.step == step and _same(point.value, value)
    row = _latest_row(client, run_id, "m")
    assert (row.count, row.nan_count, row.min_value, row.max_value) == (6, 1, -math.inf, math.inf)
    assert client.get_run(run_id).data.metrics["m"] == 1e-308


def test_exact_duplicates_in_one_batch_are_stored_once(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", 1.5, 7, 2)] * 3 + [Metric("m", 2.5, 7, 2)])
    assert len(client.get_metric_history(run_id, "m")) == 2
    assert _latest_row(client, run_id, "m").count == 2


def test_a_param_conflict_in_a_batch_keeps_nothing_of_the_batch(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, params=[Param("lr", "0.1")])
    with pytest.raises(ParamConflict, match="lr"):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)],
                         params=[Param("new", "x"), Param("lr", "0.2")], tags=[RunTag("t", "v")])
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert "m" not in run.data.metrics and "t" not in run.data.tags
    client.log_batch(run_id, params=[Param("lr", "0.1"), Param("new", "y")])  # same value again is fine
    assert client.get_run(run_id).data.params == {"lr": "0.1", "new": "y"}


def test_param_number_column_is_filled(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, params=[Param("lr", "1e-3"), Param("opt", "adam")])
    rows = client.store.read(lambda c: c.execute(
        select(key_names.c.name, params.c.value_num).join(key_names, key_names.c.id == params.c.key_id)).all())
    assert dict(rows) == {"lr": 0.001, "opt": None}


def test_prepare_points_checks_mixed_batches_point_by_point():
    plain = prepare_points([Metric("seen/key", 1.0, 2, 3)] * 2)
    assert plain == [("seen/key", 3, 2, 1.0)] * 2
    converted = prepare_points([Metric("seen/key", 1.0, 2, 3), Metric("seen/key", 4, 5.0, 6)])
    assert [tuple(p) for p in converted] == [("seen/key", 3, 2, 1.0), ("seen/key", 6, 5, 4.0)]
    assert type(converted[1][3]) is float
    with pytest.raises(InvalidParameter, match="step"):
        prepare_points([Metric("seen/key", 1.0, 2, 3), Metric("seen/key", 1.0, 2, 2**63)])
    with pytest.raises(InvalidParameter):
        prepare_points([Metric("seen/key", 1.0, 2, 3), Metric("bad/../key", 1.0, 2, 3)])
    with pytest.raises(InvalidParameter):
        prepare_points([Metric("seen/key", True, 2, 3)])


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, -0.0, 1.0, math.nan, math.inf, -math.inf]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), values, st.integers(0, 3), st.integers(-2, 2)),
                      min_size=1, max_size=40))
def test_history_and_latest_match_the_logged_points(client, batch):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in batch])
    for key in {k for k, *_ in batch}:
        logged = [(s, t, v) for k, v, t, s in batch if k == key]
        distinct = list({(s, t, v if v == v else "nan", math.copysign(1, v)): (s, t, v) for s, t, v in logged}.values())
        history = [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]
        assert len(history) == len(distinct)
        assert [h[:2] for h in history] == sorted(h[:2] for h in history)
        order = lambda p: (p[0], p[1], 0.0 if p[2] != p[2] else p[2])  # noqa: E731
        want = max(logged, key=order)[2]
        assert _same(client.get_run(run_id).data.metrics[key], want)
    rid = client.store.cached_run_id(run_id)
    stored = client.store.read(lambda c: c.execute(select(metrics).where(metrics.c.run_id == rid)).all())
    assert len(stored) == len({(k, s, t, v if v == v else "nan", math.copysign(1, v)) for k, v, t, s in batch})


def test_a_batch_with_stored_duplicates_still_breaks_ties_by_logging_order(client):
    """Found by test_latest_aggregates: the recount path used to let the primary-key order decide."""
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", 0.0, 0, 0)])
    client.log_batch(run_id, metrics=[Metric("m", 0.0, 0, 0), Metric("m", math.nan, 0, 3), Metric("m", 0.0, 0, 3)])
    assert math.isnan(client.get_run(run_id).data.metrics["m"])
    assert _latest_row(client, run_id, "m").count == 3
    client.log_batch(run_id, metrics=[Metric("m", 0.0, 0, 3), Metric("m", -0.0, 0, 3)])  # stored latest wins
    assert math.isnan(client.get_run(run_id).data.metrics["m"])


def test_ending_a_run_writes_its_pending_values_and_status_together(client):
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.5, step=1)
    client.log_param(run_id, "p", "x")
    writes = []
    real = client.store.write
    client.store.write = lambda unit: writes.append(unit) or real(unit)
    client.set_terminated(run_id, "KILLED", end_time=1234)
    client.store.write = real
    assert len(writes) == 1  # one transaction: values and status
    run = client.get_run(run_id)
    assert (run.info.status, run.info.end_time) == ("KILLED", 1234)
    assert run.data.metrics == {"m": 1.5} and run.data.params == {"p": "x"}


def test_ending_a_run_with_nothing_pending_still_sets_the_status(client):
    run_id = client.create_run("0").info.run_id
    client.set_terminated(run_id)
    assert client.get_run(run_id).info.status == "FINISHED"
    with pytest.raises(InvalidParameter, match="status"):
        client.set_terminated(run_id, "DONE")


def test_a_refused_final_flush_leaves_the_run_running(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, params=[Param("p", "1")])
    client._buffer._known_params.clear()  # as if another process had logged p
    client.log_param(run_id, "p", "2")
    with pytest.raises(ParamConflict):
        client.set_terminated(run_id)
    assert client.get_run(run_id).info.status == "RUNNING"


def test_history_is_exact_with_and_without_special_values(client):
    from sqltrack import Metric as M

    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[M("plain", 0.5 * s, 10 + s, s) for s in range(5)]
                     + [M("odd", v, 1, s) for s, v in enumerate([1.0, math.nan, -0.0, math.inf])])
    plain = client.get_metric_history(run_id, "plain")
    assert plain == [M("plain", 0.5 * s, 10 + s, s) for s in range(5)]
    assert all(type(m) is M and type(m.value) is float for m in plain)
    odd = client.get_metric_history(run_id, "odd")
    assert [m.step for m in odd] == [0, 1, 2, 3]
    assert _same(odd[1].value, math.nan) and _same(odd[2].value, -0.0) and odd[3].value == math.inf
    assert client.get_metric_history(run_id, "missing") == []


def test_reads_leave_the_garbage_collector_as_they_found_it(client):
    import gc

    from sqltrack import Metric as M

    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[M("m", 1.0, 1, s) for s in range(3)])
    assert gc.isenabled()
    client.get_metric_history(run_id, "m")
    assert gc.isenabled()
    gc.disable()
    try:
        client.get_metric_history(run_id, "m")
        client.search_runs("0", max_results=None)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_point_rows_are_made_before_the_transaction_once_every_id_is_known(client):
    """The rows a batch writes are computed outside the write lock when the run's and keys' ids are cached."""
    from sqltrack.store.batch import Point, point_rows, prepare_point_rows

    run_id = client.create_run("0").info.run_id
    points = [Point("loss", s, 100 + s, 1.0 / (s + 1)) for s in range(5)] + [Point("acc", 0, 100, 0.5)]
    assert prepare_point_rows(client.store, run_id, points) is None  # "loss" and "acc" have no ids yet
    client.log_batch(run_id, metrics=[Metric("loss", 2.0, 90, 0), Metric("acc", 0.1, 90, 0)])
    prepared = prepare_point_rows(client.store, run_id, points)
    rid = client.store.cached_run_id(run_id)
    ids = {k: client.store.cached_key_id(k) for k in ("loss", "acc")}
    assert prepared is not None and prepared.rid == rid
    assert prepared == point_rows(rid, ids, points, client.store.rules.native_inf)
    assert [row[:2] for row in prepared.ordered] == sorted((rid, ids[p.key]) for p in points)


def test_a_batch_prepared_for_another_run_is_not_written_into_this_one(client):
    from sqltrack.store.batch import Point, prepare_point_rows, write_points

    first, second = (client.create_run("0").info.run_id for _ in range(2))
    client.log_batch(first, metrics=[Metric("m", 1.0, 1, 0)])
    prepared = prepare_point_rows(client.store, first, [Point("m", 1, 2, 5.0)])
    rid = client.store.cached_run_id(second)
    client.store.write(lambda conn: write_points(client.store, conn, rid, [Point("m", 1, 2, 5.0)], prepared))
    assert [m.value for m in client.get_metric_history(second, "m")] == [5.0]
    assert [m.value for m in client.get_metric_history(first, "m")] == [1.0]


@pytest.mark.sqlite_only
def test_writers_check_their_connection_out_and_in_outside_the_writers_queue(client):
    """Pool checkout and check-in are not done while holding the queue other processes wait on."""
    import fcntl
    import os

    from sqlalchemy import event

    seen = []
    probe = os.open(f"{client.store.engine.url.database}-writer.lock", os.O_RDWR | os.O_CREAT)

    def queue_is_free(*_args) -> None:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            seen.append("held")
            return
        fcntl.flock(probe, fcntl.LOCK_UN)
        seen.append("free")

    event.listen(client.store.engine, "checkout", queue_is_free)
    event.listen(client.store.engine, "checkin", queue_is_free)
    try:
        run_id = client.create_run("0").info.run_id
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)])
    finally:
        os.close(probe)
    assert seen and set(seen) == {"free"}, seen


def test_ending_a_run_with_pending_values_stamps_its_last_activity_once(client):
    """The final flush leaves the activity stamp to the status update of the same transaction."""
    from sqltrack.store.schema import runs

    run_id = client.create_run("0", start_time=1_000).info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=5, step=0)
    client.set_terminated(run_id, end_time=2_000)
    stamp = client.store.read(lambda c: c.execute(select(runs.c.last_activity_time, runs.c.end_time)
                                                  .where(runs.c.run_uuid == run_id)).one())
    assert stamp.end_time == 2_000 and stamp.last_activity_time > 2_000  # now, in ms


@pytest.mark.sqlite_only
def test_a_run_is_created_and_ended_on_sqlite_without_statements_through_sqlalchemy(client):
    """Once its keys are known, a run's creation and end send every statement to the driver itself.

    SQLAlchemy's work per statement is time that every other writer of the file waits for
    (store/sqlite_path.py); only the BEGIN of each transaction goes through it.
    """
    from sqlalchemy import event

    def one_run(tag: str) -> None:
        run_id = client.create_run("0", tags={"team": tag}).info.run_id
        client.log_param(run_id, "lr", "0.1")
        client.set_tag(run_id, "note", tag)
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step, timestamp=step)
        client.set_terminated(run_id)

    one_run("first")  # interns the key names
    statements = []
    event.listen(client.store.engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: statements.append(statement))
    one_run("second")
    assert statements == [], statements
    client.store.read(lambda conn: conn.execute(text("SELECT 1")))  # the listener does see Core's statements
    assert statements == ["SELECT 1"]
    run = client.search_runs(["0"], filter_string="tags.team = 'second'")[0]
    assert (run.data.params, run.data.metrics, run.info.status) == ({"lr": "0.1"}, {"loss": 1.0 / 3}, "FINISHED")
