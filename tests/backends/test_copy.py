"""``sqltrack copy``: a whole store from SQLite to PostgreSQL / MariaDB and back, idempotently, verified.

Each test builds a SQLite store with every kind of row (NaN/±inf/-0.0 metrics, a 64 KB
param, deleted runs and experiments, artifacts), copies it through the server backends
that answer (skipping with the reason otherwise), and compares what the API reports.
"""

from __future__ import annotations

import json
import math
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sqltrack import Client, Metric, Param, RunTag
from sqltrack.cli import cli
from sqltrack.entities import ViewType
from sqltrack.store import Store
from sqltrack.store.copy import CopyConflict, CopyMismatch, CopyReport, copy_store, verify_copy
from sqltrack.store.schema import artifacts, runs
from sqltrack.testing import SERVER_BACKENDS, StoreSupplier, unavailable

VALUES = [0.5, math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]


def _fill(client: Client) -> None:
    eid = client.create_experiment("sweep", tags={"team": "vision", "note": "é€😀"})
    gone = client.create_experiment("old")
    for index in range(6):
        run = client.create_run(eid if index < 5 else gone, run_name=f"run-{index}", start_time=1_000 + index,
                                tags={"idx": str(index)})
        run_id = run.info.run_id
        client.log_batch(run_id, metrics=[Metric("loss", v, 10 + s, s) for s, v in enumerate(VALUES[index:])]
                         + [Metric("acc", index / 10, 5, 0)],
                         params=[Param("lr", str(10 ** -index)), Param("opt", "adam")],
                         tags=[RunTag("stage", "train")])
        client.log_text(run_id, f"notes of run {index}", "notes/readme.txt")
        client.log_dict(run_id, {"index": index}, "config.json")
        client.set_terminated(run_id, "FINISHED" if index % 2 == 0 else "FAILED", end_time=2_000 + index)
    client.log_param(run_id, "long", "x€" * 32 * 1024, synchronous=True)
    first = client.search_runs([eid], order_by=["attributes.run_name"])[0].info.run_id
    client.delete_run(first)
    client.delete_experiment(gone)


def _dump(client: Client) -> dict:
    """What the API reports about every experiment and run (all lifecycle stages), artifacts included."""
    exps = {e.experiment_id: (e.name, e.lifecycle_stage, dict(e.tags))
            for e in client.search_experiments(view_type=ViewType.ALL)}
    found = {}
    for run in client.search_runs(list(exps), run_view_type=ViewType.ALL, max_results=None):
        run_id = run.info.run_id
        histories = {k: [(m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(run_id, k)]
                     for k in run.data.metrics}
        found[run_id] = {
            "info": (run.info.experiment_id, run.info.run_name, run.info.status, run.info.start_time,
                     run.info.end_time, run.info.lifecycle_stage, run.info.user_id),
            "params": run.data.params, "tags": run.data.tags,
            "latest": {k: repr(v) for k, v in run.data.metrics.items()}, "histories": histories,
            "artifacts": {p: client.store.blobs.read_bytes(d) for p, d in _artifact_index(client, run_id)},
        }
    return {"experiments": exps, "runs": found}


def _artifact_index(client: Client, run_id: str) -> list[tuple[str, str]]:
    query = (select(artifacts.c.path, artifacts.c.digest).join(runs, runs.c.id == artifacts.c.run_id)
             .where(runs.c.run_uuid == run_id).order_by(artifacts.c.path))
    return client.store.read(lambda conn: [tuple(r) for r in conn.execute(query)])


def _servers() -> list[str]:
    ready = [b for b in SERVER_BACKENDS if not unavailable(b)]
    if not ready:
        pytest.skip("; ".join(unavailable(b) for b in SERVER_BACKENDS))
    return ready


@pytest.fixture
def source(tmp_path):
    client = Client(tmp_path / "laptop.db", artifact_root=tmp_path / "laptop-artifacts")
    _fill(client)
    yield client
    client.close()


def _store(url: str, root) -> Store:
    return Store(url, root)


@pytest.mark.backend
def test_sqlite_to_each_server_and_back_is_exact(source, tmp_path):
    expected = _dump(source)
    chain = [("sqlite", source.store.url, source.store.artifact_root)]
    with_suppliers = []
    try:
        for backend in _servers():
            supplier = StoreSupplier(backend, tmp_dir=tmp_path).__enter__()
            with_suppliers.append(supplier)
            chain.append((backend, supplier.url, supplier.artifact_root))
        chain.append(("sqlite", f"sqlite:///{tmp_path / 'back.db'}", f"memory://back-{uuid.uuid4().hex}"))
        for (_, src_url, src_root), (name, dst_url, dst_root) in zip(chain, chain[1:], strict=False):
            src, dst = _store(src_url, src_root), _store(dst_url, dst_root)
            report = copy_store(src, dst)
            assert report.verified and report.runs_new == 6 and report.blobs_copied == 12, name
            assert report.counts["metrics"][0] == report.counts["metrics"][1] > 0
            src.close()
            dst.close()
            copied = Client(dst_url, artifact_root=dst_root)
            assert _dump(copied) == expected, f"copy into {name} differs"
            copied.close()
    finally:
        for supplier in with_suppliers:
            supplier.__exit__(None, None, None)


@pytest.mark.backend
@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_copy_again_copies_nothing_new_and_catches_up(source, tmp_path, backend):
    if unavailable(backend):
        pytest.skip(unavailable(backend))
    with StoreSupplier(backend, tmp_dir=tmp_path) as server:
        target = _store(server.url, server.artifact_root)
        first = copy_store(source.store, target)
        again = copy_store(source.store, target)
        assert again.verified and (again.runs_new, again.runs_updated, again.blobs_copied) == (0, 6, 0)
        assert again.counts == first.counts and again.checksums == first.checksums
        # the source goes on logging: copying again brings the target up to date
        eid = source.get_experiment_by_name("sweep").experiment_id
        run_id = source.create_run(eid, run_name="late").info.run_id
        source.log_batch(run_id, metrics=[Metric("loss", 0.01, 99, 7)])
        running = source.search_runs([eid], "attributes.run_name = 'run-1'")[0].info.run_id
        source.log_batch(running, metrics=[Metric("loss", -math.inf, 50, 40)])
        caught_up = copy_store(source.store, target)
        assert caught_up.verified and caught_up.runs_new == 1
        target.close()
        copied = Client(server.url, artifact_root=server.artifact_root)
        assert _dump(copied) == _dump(source)
        assert copied.get_run(running).data.metrics["loss"] == -math.inf
        copied.close()


@pytest.mark.backend
@pytest.mark.parametrize("backend", SERVER_BACKENDS)
def test_a_clashing_experiment_stops_the_copy_before_writing(source, tmp_path, backend):
    if unavailable(backend):
        pytest.skip(unavailable(backend))
    with StoreSupplier(backend, tmp_dir=tmp_path) as server:
        other = server.open_client()
        other.create_experiment("someone else's")  # takes id 1, which is 'sweep' in the source
        target = _store(server.url, server.artifact_root)
        with pytest.raises(CopyConflict, match="Experiment id 1 is 'sweep'"):
            copy_store(source.store, target)
        assert [r.info.run_id for r in other.search_runs(None, max_results=None)] == []
        target.close()


def test_a_mismatch_is_reported(source, tmp_path):
    target = _store(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "target-artifacts")
    copy_store(source.store, target)
    run_id = source.search_runs(None, max_results=1)[0].info.run_id
    other = Client(target.url, artifact_root=target.artifact_root)
    other.update_run(run_id, name="renamed in the target")  # the runs row differs whatever the clock reads
    other.set_tag(run_id, "stage", "changed in the target", synchronous=True)
    other.log_param(run_id, "extra", "only in the target", synchronous=True)
    other.close()
    source.set_tag(run_id, "stage", "train", synchronous=True)
    report = CopyReport(source.store.display_url, target.display_url)
    verify_copy(source.store, target, report)
    assert not report.verified and [m.split(" ")[0] for m in report.mismatches()] == ["runs", "params", "tags"]
    with pytest.raises(CopyMismatch, match="params") as caught:
        copy_store(source.store, target)  # runs and tags take the source's values again; the extra param stays
    assert [m.split(" ")[0] for m in caught.value.report.mismatches()] == ["params"]
    target.close()


@pytest.mark.backend
def test_the_copy_command(source, tmp_path):
    backend = _servers()[0]
    with StoreSupplier(backend, tmp_dir=tmp_path) as server:
        root = f"memory://team-{uuid.uuid4().hex}"
        args = ["copy", source.store.url, server.url, "--source-artifact-root", str(source.store.artifact_root),
                "--target-artifact-root", root]
        result = CliRunner().invoke(cli, [*args, "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["verified"] and report["runs_new"] == 6 and report["blobs_copied"] == 12
        assert report["tables"]["metrics"]["source"] == report["tables"]["metrics"]["target"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "0 new and 6 updated run(s)" in result.output and "Verified:" in result.output
        team = Client(server.url, artifact_root=root)
        assert _dump(team) == _dump(source)
        team.close()


def test_the_copy_command_reports_a_clash_in_one_line(source, tmp_path):
    target = Client(tmp_path / "other.db")
    target.create_experiment("not sweep")
    target.close()
    result = CliRunner().invoke(cli, ["copy", str(tmp_path / "laptop.db"), str(tmp_path / "other.db"), "--quiet"])
    assert result.exit_code == 1 and "Experiment id 1 is 'sweep'" in result.output
