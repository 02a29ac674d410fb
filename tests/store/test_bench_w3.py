"""bench/search_bench.py: W3 times sqltrack and MLflow in alternating blocks, not one after the other.

Run with the test extras' MLflow in this interpreter (the suite's own runs use a pinned MLflow in
its virtual environment); the numbers themselves are not tested, what is timed when is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# MLflow's own SQL store configures a loader strategy that SQLAlchemy 2.1 deprecates: not ours to fix
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_w3_alternates_sqltrack_and_mlflow_blocks_at_mlflow_size(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="MLflow (a test extra) runs W3's MLflow side here")
    monkeypatch.syspath_prepend(str(REPO))
    from bench import common, mlflow_side, search_bench
    from bench.__main__ import Config

    monkeypatch.setattr(common, "CACHE_DIR", tmp_path / "cache")
    timeline = []
    searches = search_bench._sqltrack_searches

    def sqltrack_side(path, eid, reps):
        timeline.append(("sqltrack", reps))
        return searches(path, eid, reps)

    def mlflow_run(kind, args):
        if kind == "w3":
            timeline.append(("mlflow", args["reps"]))
        return getattr(mlflow_side, kind)(args)

    monkeypatch.setattr(search_bench, "_sqltrack_searches", sqltrack_side)
    cfg = Config(search_reps=8, search_runs=40, mlflow_search_runs=40, tmp=str(tmp_path), log=lambda *_: None)
    cases = search_bench.run_w3(cfg, mlflow_run)

    assert timeline == [("sqltrack", 2), ("mlflow", 2)] * search_bench.MLFLOW_BLOCKS
    compared = [case for case in cases if case.mlflow is not None]
    assert {case.name.split(":")[0] for case in compared} == set(common.MLFLOW_SEARCHES)
    for case in compared:
        assert len(case.sqltrack.values) == len(case.raw.values) == len(case.mlflow.values) == 8
        assert "same first runs as MLflow: yes" in case.notes
