"""A call that logs several values (log_metrics, log_params, set_tags, log_batch) is all or nothing.

The write buffer flushes on its own when it holds FLUSH_POINTS values; a call that crosses
that threshold must still reach the store whole, and a call with one bad value must store
none of its values. Readers use a second client, as another process would.
"""

from __future__ import annotations

import pytest

from sqltrack import Client, Metric, Param
from sqltrack.api.buffer import FLUSH_POINTS
from sqltrack.errors import InvalidParameter, ParamConflict


@pytest.fixture
def reader(store_path):
    def read(run_id):
        client = Client(store_path, read_only=True)
        try:
            return client.get_run(run_id).data
        finally:
            client.close()

    return read


def _fill_buffer_to(fluent, size: int) -> None:
    for step in range(size):
        fluent.log_metric("warmup", 0.0, step=step)


@pytest.mark.sqlite_only
def test_log_metrics_crossing_the_flush_threshold_is_not_split(fluent, reader):
    run_id = fluent.start_run().info.run_id
    _fill_buffer_to(fluent, FLUSH_POINTS - 2)
    fluent.log_metrics({f"m{k}": 7.0 for k in range(5)}, step=1)
    seen = {k for k in reader(run_id).metrics if k.startswith("m")}
    assert seen in (set(), {f"m{k}" for k in range(5)})


@pytest.mark.sqlite_only
def test_log_params_and_set_tags_crossing_the_threshold_are_not_split(fluent, reader):
    run_id = fluent.start_run().info.run_id
    _fill_buffer_to(fluent, FLUSH_POINTS - 3)
    fluent.log_params({f"p{k}": k for k in range(20)})
    assert len(reader(run_id).params) in (0, 20)
    _fill_buffer_to(fluent, FLUSH_POINTS - 3)
    fluent.set_tags({f"t{k}": k for k in range(10)})
    assert len([t for t in reader(run_id).tags if t.startswith("t")]) in (0, 10)


def test_a_bad_value_refuses_the_whole_call(fluent):
    run = fluent.start_run()
    with pytest.raises(InvalidParameter):
        fluent.log_params({"good": 1, "bad\x00key": 2})
    with pytest.raises(InvalidParameter):
        fluent.log_metrics({"good": 1.0, "bad": "not a number"})
    with pytest.raises(InvalidParameter):
        fluent.set_tags({"good": 1, "bad": "x\x00"})
    fluent.log_params({"kept": 1})
    with pytest.raises(ParamConflict):
        fluent.log_params({"new": 2, "kept": 3})  # a changed param refuses the call, "new" included
    fluent.end_run()
    data = fluent.get_run(run.info.run_id).data
    assert data.params == {"kept": "1"} and data.metrics == {}
    assert not {"good", "bad"} & set(data.tags)


def test_log_batch_is_one_transaction(client):
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameter):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 0)], params=[Param("p", "x" * 2_000_000)])
    client.log_batch(run_id, params=[Param("q", "1")])
    with pytest.raises(ParamConflict):  # refused by the store, inside the transaction
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 0)], params=[Param("q", "2")])
    data = client.get_run(run_id).data
    assert data.metrics == {} and data.params == {"q": "1"}
