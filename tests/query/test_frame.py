"""runs_to_frame: the shape of mlflow.search_runs(output_format="pandas")."""

from __future__ import annotations

import math
import subprocess
import sys

import pandas as pd

from sqltrack.entities import Run, RunData, RunInfo
from sqltrack.query.frame import runs_to_frame


def _run(run_id, start, end, metrics=None, params=None, tags=None) -> Run:
    info = RunInfo(run_id, "1", None, None, "FINISHED", start, end, f"file:///a/{run_id}", "active")
    return Run(info, RunData(metrics or {}, params or {}, tags or {}))


def test_columns_values_and_missing():
    runs = [_run("r1", 1_000, None, {"loss": 0.5}, {"lr": "0.1"}, {"mlflow.runName": "one"}),
            _run("r2", 2_000, 3_000, {"acc": 0.9, "loss": math.nan}, {}, {"team": "a", "mlflow.runName": "two"})]
    df = runs_to_frame(runs)
    assert list(df.columns) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
                                "metrics.loss", "metrics.acc", "params.lr", "tags.mlflow.runName", "tags.team"]
    assert list(df["run_id"]) == ["r1", "r2"]
    assert df["start_time"][0] == pd.Timestamp(1_000, unit="ms", tz="UTC")
    assert pd.isna(df["end_time"][0]) and df["end_time"][1] == pd.Timestamp(3_000, unit="ms", tz="UTC")
    assert str(df["start_time"].dtype).endswith("UTC]")
    assert df["metrics.acc"].dtype == "float64" and math.isnan(df["metrics.acc"][0])
    assert pd.isna(df["params.lr"][1]) and df["tags.team"][1] == "a"


def test_no_runs_gives_the_info_columns():
    df = runs_to_frame([])
    assert list(df.columns) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert len(df) == 0


def test_pandas_is_imported_lazily():
    code = "import sys, sqltrack.query.frame, sqltrack.query.search; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
