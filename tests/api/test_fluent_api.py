"""MLflow-style fluent code runs unchanged with ``import sqltrack as mlflow``."""

from __future__ import annotations

import pickle

import pytest

from sqltrack.errors import InvalidParameter, ParamConflict


def test_tutorial_flow(fluent):
    mlflow = fluent
    experiment = mlflow.set_experiment("pca")
    ids = {}
    for pca_var, mse in [(0.3, 0.9), (0.8, 0.4), (0.95, 0.2)]:
        with mlflow.start_run() as run:
            mlflow.log_param("pca_var", pca_var)
            mlflow.log_metric("MSE", mse)
            for step in range(3):
                mlflow.log_metric("explained", step / 10, step=step)
            mlflow.log_model({"pca_var": pca_var}, "model")
            ids[pca_var] = run.info.run_id
    best = mlflow.search_runs(order_by=["metrics.MSE ASC"], max_results=1)
    assert list(best["run_id"]) == [ids[0.95]]
    assert best["params.pca_var"].iloc[0] == "0.95"
    assert best["experiment_id"].iloc[0] == experiment.experiment_id
    model = mlflow.load_model(f"runs:/{best['run_id'].iloc[0]}/model")
    assert model == {"pca_var": 0.95}
    assert mlflow.get_run(ids[0.3]).info.status == "FINISHED"


def test_runs_are_immutable_records_that_pickle(fluent):
    mlflow = fluent
    with mlflow.start_run() as active:
        mlflow.log_metric("m", 1.5)
        mlflow.log_param("p", "x")
    run = mlflow.get_run(active.info.run_id)
    found = mlflow.search_runs(output_format="list")
    assert found == [run] and run.info.run_uuid == run.info.run_id == active.info.run_id
    with pytest.raises(AttributeError):
        run.info.status = "FAILED"
    with pytest.raises(AttributeError):
        run.data = None
    assert not hasattr(active, "__dict__"), "an active run carries nothing beyond its info and data"
    again = pickle.loads(pickle.dumps(run))
    assert again == run and again.data.metrics == {"m": 1.5} and again.data.params == {"p": "x"}
    assert type(pickle.loads(pickle.dumps(active))) is type(active)


def test_exception_marks_run_failed_and_flushes(fluent):
    with pytest.raises(RuntimeError):
        with fluent.start_run() as run:
            fluent.log_metric("loss", 1.5)
            raise RuntimeError("boom")
    finished = fluent.get_run(run.info.run_id)
    assert finished.info.status == "FAILED" and finished.info.end_time is not None
    assert finished.data.metrics == {"loss": 1.5}


def test_keyboard_interrupt_marks_run_killed(fluent):
    with pytest.raises(KeyboardInterrupt):
        with fluent.start_run() as run:
            fluent.log_metric("loss", 2.0)
            raise KeyboardInterrupt
    killed = fluent.get_run(run.info.run_id)
    assert killed.info.status == "KILLED" and killed.data.metrics == {"loss": 2.0}


def test_nested_runs_carry_parent(fluent):
    with fluent.start_run(run_name="parent") as parent:
        with pytest.raises(InvalidParameter, match="already active"):
            fluent.start_run()
        with fluent.start_run(nested=True, run_name="child") as child:
            assert fluent.active_run().info.run_id == child.info.run_id
        assert fluent.active_run().info.run_id == parent.info.run_id
    tags = fluent.get_run(child.info.run_id).data.tags
    assert tags["mlflow.parentRunId"] == parent.info.run_id
    assert tags["mlflow.runName"] == "child"
    assert {"mlflow.user", "mlflow.source.name", "mlflow.source.type"} <= set(tags)


def test_resume_run_by_id_keeps_params_write_once(fluent):
    with fluent.start_run() as run:
        fluent.log_param("a", 1)
    with fluent.start_run(run_id=run.info.run_id):
        fluent.log_metric("m", 1.0)
        with pytest.raises(ParamConflict):
            fluent.log_param("a", 2)
    assert fluent.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_set_experiment_refuses_deleted(fluent):
    eid = fluent.create_experiment("gone")
    fluent.delete_experiment(eid)
    with pytest.raises(InvalidParameter, match="restore"):
        fluent.set_experiment("gone")
    fluent.restore_experiment(eid)
    assert fluent.set_experiment("gone").experiment_id == eid


def test_text_dict_and_artifact_uris(fluent, tmp_path):
    with fluent.start_run() as run:
        fluent.log_text("hello", "notes/readme.txt")
        fluent.log_dict({"a": [1, 2]}, "config.yaml")
        fluent.log_dict({"b": 1}, "config.json")
        uri = fluent.get_artifact_uri("notes/readme.txt")
    assert fluent.load_text(uri) == "hello"
    assert fluent.load_dict(f"runs:/{run.info.run_id}/config.yaml") == {"a": [1, 2]}
    assert fluent.load_dict(f"runs:/{run.info.run_id}/config.json") == {"b": 1}
    local = fluent.download_artifacts(run_id=run.info.run_id, dst_path=tmp_path / "out")
    assert (tmp_path / "out" / "notes" / "readme.txt").read_text() == "hello"
    assert local == str(tmp_path / "out")


def test_search_runs_list_and_frame_shape(fluent):
    with fluent.start_run(run_name="r1"):
        fluent.log_metric("acc", 0.5)
        fluent.log_param("p", "x")
        fluent.set_tag("t", "y")
    frame = fluent.search_runs()
    assert list(frame.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert {"metrics.acc", "params.p", "tags.t", "tags.mlflow.runName"} <= set(frame.columns)
    runs = fluent.search_runs(output_format="list")
    assert runs[0].info.run_name == "r1"


def test_log_figure_when_matplotlib_is_installed(fluent):
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is optional")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([1, 2, 3])
    with fluent.start_run() as run:
        fluent.log_figure(figure, "plots/line.png")
    data = fluent.get_client().list_artifacts(run.info.run_id, "plots")
    assert data[0].path == "plots/line.png" and data[0].file_size > 100
