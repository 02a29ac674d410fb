"""Runs → pandas DataFrame in the shape of ``mlflow.search_runs(output_format="pandas")``.

Columns: ``run_id, experiment_id, status, artifact_uri, start_time, end_time`` (UTC
datetimes from epoch ms), then ``metrics.*`` (float, NaN when missing), ``params.*`` and
``tags.*`` (str, None when missing). Within each group a key's column appears in the
order of the first run that has it. MLflow orders keys first seen in the same run by
Python set iteration (not deterministic); we use the run's own key order instead (the
order of its dicts: key id order, i.e. the order in which the store first saw the keys).
``columns_to_frame`` builds the same frame from columns that the store loaded directly
(``sqltrack.store.reads.load_frame_columns``), without a Run object per run.
pandas is imported only when this is called.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from ..entities import Run
from ..store.reads import INFO_COLUMNS, FrameColumns


def runs_to_frame(runs: Sequence[Run]):
    """A DataFrame with one row per run, in the given order, shaped like MLflow's."""
    info: dict[str, list] = {name: [] for name in INFO_COLUMNS}
    for run in runs:
        i = run.info
        for name, value in zip(INFO_COLUMNS, (i.run_id, i.experiment_id, i.status, i.artifact_uri, i.start_time,
                                              i.end_time), strict=True):
            info[name].append(value)
    return columns_to_frame(FrameColumns(info, _columns([run.data.metrics for run in runs], math.nan),
                                         _columns([run.data.params for run in runs], None),
                                         _columns([run.data.tags for run in runs], None)))


def columns_to_frame(columns: FrameColumns):
    """The DataFrame of runs given as columns (one value per run, keys in column order)."""
    import pandas as pd

    data: dict[str, Sequence] = dict(columns.info)
    for name in ("start_time", "end_time"):  # one conversion per column: per-value calls cost ~0.1 ms each
        data[name] = pd.to_datetime(pd.Series(data[name], dtype="Int64"), unit="ms", utc=True)
    for prefix, group in (("metrics", columns.metrics), ("params", columns.params), ("tags", columns.tags)):
        for key, column in group.items():
            data[f"{prefix}.{key}"] = column
    return pd.DataFrame(data)


def _columns(values: list[Mapping], missing) -> dict[str, list]:
    """One list per key, in first-seen order, with ``missing`` where a run lacks the key."""
    keys = dict.fromkeys(key for mapping in values for key in mapping)
    return {key: [mapping.get(key, missing) for mapping in values] for key in keys}
