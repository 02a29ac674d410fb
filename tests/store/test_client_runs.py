"""Experiments, runs, params, tags and metrics through the Client, on a real SQLite file."""

from __future__ import annotations

import math

import pytest

from sqltrack import Metric, Param, RunTag
from sqltrack.errors import ExperimentNotFound, InvalidParameter, ParamConflict, RunNotFound, SqltrackError


def test_default_experiment_exists(client):
    default = client.get_experiment("0")
    assert default.name == "Default" and default.lifecycle_stage == "active"


def test_create_get_rename_delete_restore_experiment(client):
    eid = client.create_experiment("sweep", tags={"team": "vision"})
    assert client.get_experiment(eid).tags == {"team": "vision"}
    assert client.get_experiment_by_name("sweep").experiment_id == eid
    with pytest.raises(InvalidParameter, match="already exists"):
        client.create_experiment("sweep")
    client.rename_experiment(eid, "sweep2")
    run = client.create_run(eid)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameter, match="deleted state"):
        client.create_experiment("sweep2")
    client.restore_experiment(eid)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_unknown_ids_raise_lookup_errors_naming_the_id(client):
    with pytest.raises(ExperimentNotFound, match="'?12345'?"):
        client.get_experiment("12345")
    with pytest.raises(RunNotFound, match="deadbeef") as info:
        client.get_run("deadbeef")
    assert isinstance(info.value, LookupError) and isinstance(info.value, SqltrackError)
    with pytest.raises(InvalidParameter, match="integers"):
        client.get_experiment("abc")


def test_run_gets_generated_name_and_system_tag(client):
    run = client.create_run("0")
    assert run.info.run_name and run.data.tags["mlflow.runName"] == run.info.run_name
    assert run.info.status == "RUNNING" and len(run.info.run_id) == 32


def test_params_are_write_once(client):
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "lr", 0.1)
    client.log_param(run_id, "lr", "0.1")  # same string value: fine
    with pytest.raises(ParamConflict, match="lr"):
        client.log_param(run_id, "lr", 0.2)
    client.flush()
    other = __import__("sqltrack").Client(client.store.url, artifact_root=client.store.artifact_root)
    with pytest.raises(ParamConflict, match="write-once"):
        other.log_batch(run_id, params=[Param("lr", "0.3")])
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
    other.close()


def test_tags_overwrite_and_delete(client):
    run_id = client.create_run("0").info.run_id
    client.set_tag(run_id, "stage", "a")
    client.set_tag(run_id, "stage", "b")
    assert client.get_run(run_id).data.tags["stage"] == "b"
    client.delete_tag(run_id, "stage")
    assert "stage" not in client.get_run(run_id).data.tags
    with pytest.raises(InvalidParameter, match="no tag"):
        client.delete_tag(run_id, "stage")


def test_run_name_tag_renames_run(client):
    run_id = client.create_run("0", run_name="first").info.run_id
    client.set_tag(run_id, "mlflow.runName", "second")
    assert client.get_run(run_id).info.run_name == "second"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308,
                                   -1e-300, 0.1 + 0.2])
def test_metric_values_round_trip_exactly(client, value):
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", value, step=2**62, timestamp=2**40)
    [point] = client.get_metric_history(run_id, "m")
    latest = client.get_run(run_id).data.metrics["m"]
    for got in (point.value, latest):
        assert (math.isnan(got) and math.isnan(value)) or (got == value and math.copysign(1, got) == math.copysign(
            1, value))
    assert point.step == 2**62 and point.timestamp == 2**40


def test_latest_is_max_by_step_timestamp_value(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric("m", 8.0, 100, 5), Metric("m", 4.0, 50, 7), Metric("m", 9.0, 10, 6)])
    assert client.get_run(run_id).data.metrics["m"] == 4.0
    client.log_batch(run_id, metrics=[Metric("m", 3.0, 51, 7)])
    assert client.get_run(run_id).data.metrics["m"] == 3.0


def test_exact_duplicate_points_are_stored_once_but_same_step_values_kept(client):
    run_id = client.create_run("0").info.run_id
    points = [Metric("m", 1.0, 10, 0), Metric("m", 2.0, 10, 0)]
    client.log_batch(run_id, metrics=points)
    client.log_batch(run_id, metrics=points)  # a retried batch changes nothing
    history = client.get_metric_history(run_id, "m")
    assert sorted(p.value for p in history) == [1.0, 2.0]


def test_invalid_inputs_are_refused_with_clear_messages(client):
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameter, match="number"):
        client.log_metric(run_id, "m", "high")
    with pytest.raises(InvalidParameter, match="numbers"):
        client.log_metric(run_id, "m", True)
    with pytest.raises(InvalidParameter, match="250"):
        client.log_param(run_id, "k" * 251, 1)
    with pytest.raises(InvalidParameter, match="'..'"):
        client.set_tag(run_id, "a/../b", 1)
    with pytest.raises(InvalidParameter, match="control"):
        client.log_param(run_id, "bad\nkey", 1)
    with pytest.raises(InvalidParameter, match="64 bits"):
        client.log_metric(run_id, "m", 1.0, step=2**64)


def test_log_batch_is_all_or_nothing(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, params=[Param("p", "1")])
    with pytest.raises(ParamConflict):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("p", "2")],
                         tags=[RunTag("t", "x")])
    run = client.get_run(run_id)
    assert "m" not in run.data.metrics and "t" not in run.data.tags


def test_terminate_delete_restore_run(client):
    run_id = client.create_run("0").info.run_id
    client.set_terminated(run_id, "KILLED")
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time >= run.info.start_time
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    with pytest.raises(InvalidParameter, match="status"):
        client.set_terminated(run_id, "DONE")


def test_long_param_values_up_to_the_limit(client):
    run_id = client.create_run("0").info.run_id
    big = "x" * 65_536
    client.log_param(run_id, "big", big)
    assert client.get_run(run_id).data.params["big"] == big
    with pytest.raises(InvalidParameter, match="1,000,000"):
        client.log_param(run_id, "huge", "y" * 1_000_001)


def test_a_long_run_name_is_kept_whole_in_its_tag_and_cut_to_250_in_the_runs_table(client):
    from sqlalchemy import select

    from sqltrack.store.schema import runs

    name = "n" * 300
    run = client.create_run("0", run_name=name)
    stored = client.store.read(lambda c: c.execute(select(runs.c.name).where(runs.c.run_uuid == run.info.run_id))
                               .scalar())
    assert stored == name[:250]
    assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == name


def test_a_page_of_experiments_is_read_in_a_fixed_number_of_statements(client):
    """Searching 60 experiments reads their rows and tags in bulk, in the search's own snapshot."""
    from sqlalchemy import event

    made = {client.create_experiment(f"e{i:02d}", tags={"i": str(i), "even": str(i % 2 == 0)}): i for i in range(60)}
    statements = []
    event.listen(client.store.engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: statements.append(statement))
    page = client.search_experiments(max_results=40, filter_string="name LIKE 'e%'", order_by=["name DESC"])
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= 3, queries
    assert [e.name for e in page] == [f"e{i:02d}" for i in range(59, 19, -1)]
    assert all(e.tags == {"i": str(made[e.experiment_id]), "even": str(made[e.experiment_id] % 2 == 0)}
               for e in page)
    rest = client.search_experiments(max_results=40, filter_string="name LIKE 'e%'", order_by=["name DESC"],
                                      page_token=page.token)
    assert [e.name for e in rest] == [f"e{i:02d}" for i in range(19, -1, -1)] and rest.token is None
