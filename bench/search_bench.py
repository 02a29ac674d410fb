"""W3 (search at scale), W4 (search -> DataFrame) and W5 (metric history).

Every read is warm: the store is open and one untimed call precedes the timed ones.
The raw-sqlite3 side runs hand-written SQL of the same meaning on the same sqltrack file
and builds plain tuples/dicts (or the DataFrame with pandas directly): the floor under
sqltrack's query compiler, entity objects and frame builder.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

from . import common, stores
from .common import Case, Sample

# Hand-written equivalents of common.SEARCHES on sqltrack's tables (:eid, key ids bound by name).
RAW_SEARCH_SQL = {
    "selective": """
        SELECT r.id FROM runs r JOIN latest_metrics lm ON lm.run_id = r.id AND lm.key_id = :m1
        WHERE r.experiment_id = :eid AND r.lifecycle_stage = 'active' AND lm.value > 0.99 AND lm.kind != 1
          AND r.id IN (SELECT run_id FROM params WHERE key_id = :p0 AND value = 'lion')
        ORDER BY lm.value DESC, r.start_time DESC, r.run_uuid LIMIT 100""",
    "or": """
        SELECT r.id FROM runs r WHERE r.experiment_id = :eid AND r.lifecycle_stage = 'active'
          AND (r.id IN (SELECT run_id FROM params WHERE key_id = :p2 AND value = '42')
               OR r.id IN (SELECT run_id FROM latest_metrics WHERE key_id = :m3 AND value > 0.999 AND kind != 1))
        ORDER BY r.start_time DESC, r.run_uuid LIMIT 100""",
    "aggregate": """
        SELECT r.id FROM runs r WHERE r.experiment_id = :eid AND r.lifecycle_stage = 'active'
          AND r.id IN (SELECT run_id FROM latest_metrics WHERE key_id = :m0 AND min_value < 0.1)
        ORDER BY r.start_time DESC, r.run_uuid LIMIT 100""",
    "match_all_1000": """
        SELECT r.id FROM runs r WHERE r.experiment_id = :eid AND r.lifecycle_stage = 'active'
        ORDER BY r.start_time DESC, r.run_uuid LIMIT 1000""",
}


class RawReader:
    """Plain sqlite3 on a sqltrack file: ids by hand-written SQL, then the page's data as dicts."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.keys = dict(self.db.execute("SELECT name, id FROM key_names"))
        self.names = {v: k for k, v in self.keys.items()}

    def search(self, name: str, eid: str) -> list[tuple]:
        ids = [r[0] for r in self.db.execute(RAW_SEARCH_SQL[name], {"eid": int(eid), **self.keys})]
        return self.load(ids)

    def load(self, ids: list[int]) -> list[tuple]:
        runs: dict[int, tuple] = {}
        data: dict[int, tuple[dict, dict, dict]] = {i: ({}, {}, {}) for i in ids}
        names = self.names
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM runs WHERE id IN ({marks})", chunk):
                runs[row[0]] = row
            for rid, kid, value, kind in self.db.execute(
                    f"SELECT run_id, key_id, value, kind FROM latest_metrics WHERE run_id IN ({marks})", chunk):
                data[rid][0][names[kid]] = value if not kind else float("nan")
            for slot, table in ((1, "params"), (2, "tags")):
                for rid, kid, value in self.db.execute(
                        f"SELECT run_id, key_id, value FROM {table} WHERE run_id IN ({marks})", chunk):
                    data[rid][slot][names[kid]] = value
        return [(runs[i], *data[i]) for i in ids]

    def frame(self, eid: str):
        """Every run of the experiment as a DataFrame shaped like search_runs' (columns by prefix)."""
        import pandas as pd

        ids = [r[0] for r in self.db.execute(
            "SELECT id FROM runs WHERE experiment_id = ? AND lifecycle_stage = 'active'"
            " ORDER BY start_time DESC, run_uuid", (int(eid),))]
        position = {rid: i for i, rid in enumerate(ids)}
        n = len(ids)
        columns: dict[str, list] = {c: [None] * n for c in ("run_id", "experiment_id", "status", "artifact_uri",
                                                           "start_time", "end_time")}
        for rid, uuid, exp, status, uri, start, end in self.db.execute(
                "SELECT id, run_uuid, experiment_id, status, artifact_uri, start_time, end_time FROM runs"
                " WHERE experiment_id = ? AND lifecycle_stage = 'active'", (int(eid),)):
            i = position[rid]
            columns["run_id"][i], columns["experiment_id"][i], columns["status"][i] = uuid, str(exp), status
            columns["artifact_uri"][i], columns["start_time"][i], columns["end_time"][i] = uri, start, end
        for prefix, table, missing in (("metrics", "latest_metrics", float("nan")), ("params", "params", None),
                                       ("tags", "tags", None)):
            for rid, kid, value in self.db.execute(
                    f"SELECT t.run_id, t.key_id, t.value FROM {table} t JOIN runs r ON r.id = t.run_id"
                    " WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active'", (int(eid),)):
                column = columns.get(f"{prefix}.{self.names[kid]}")
                if column is None:
                    column = columns[f"{prefix}.{self.names[kid]}"] = [missing] * n
                column[position[rid]] = value
        frame = pd.DataFrame(columns)
        for name in ("start_time", "end_time"):
            frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
        return frame

    def history(self, rid: int, key: str) -> list[tuple]:
        return self.db.execute("SELECT step, timestamp, value, kind FROM metrics WHERE run_id = ? AND key_id = ?"
                               " ORDER BY step, timestamp", (rid, self.keys[key])).fetchall()


def _times(call, reps: int) -> list[float]:
    call()  # warm-up
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        out.append(time.perf_counter() - started)
    return out


# ----- W3 --------------------------------------------------------------------------------------------
def _sqltrack_searches(path: Path, eid: str, reps: int) -> tuple[dict[str, list[float]], dict[str, list]]:
    from sqltrack import Client

    client = Client(path, read_only=True)
    raw = RawReader(path)
    times, first, raw_times = {}, {}, {}
    for name, (filter_string, order_by, max_results) in common.SEARCHES.items():
        def search(filter_string=filter_string, max_results=max_results, order_by=order_by):
            return client.search_runs([eid], filter_string, max_results=max_results, order_by=order_by)

        found = search()
        first[name] = [r.info.run_id for r in found[:5]]
        raw_found = raw.search(name, eid)
        if [r[0][1] for r in raw_found] != [r.info.run_id for r in found]:
            raise AssertionError(f"raw SQL of {name!r} finds other runs than sqltrack; fix RAW_SEARCH_SQL")
        times[name], raw_times[name] = [], []
        for _ in range(reps):  # interleaved, so that noise hits both alike
            times[name] += _times(search, 1)
            raw_times[name] += _times(lambda name=name: raw.search(name, eid), 1)
    client.close()
    return {"sqltrack": times, "raw": raw_times}, first


#: W3 at MLflow's size alternates between the two tools in this many blocks of repetitions.
MLFLOW_BLOCKS = 4


def _with_mlflow(cfg, path: Path, eid: str, mlflow_run) -> tuple[tuple, dict]:
    """sqltrack's (and raw SQL's) searches and MLflow's, in alternating blocks of repetitions.

    A shared VM's speed drifts over the minute W3 takes: timed one tool after the other, the
    ratio measured how the machine moved as much as how the tools differ.
    """
    ml_path, ml_eid = stores.mlflow_search_store(cfg.mlflow_search_runs, mlflow_run, log=cfg.log)
    reps = -(-cfg.search_reps // MLFLOW_BLOCKS)
    mine: tuple | None = None
    theirs: dict | None = None
    for _ in range(MLFLOW_BLOCKS):
        block = _sqltrack_searches(path, eid, reps)
        ml = mlflow_run("w3", {"path": str(ml_path), "experiment_id": ml_eid, "reps": reps})
        if mine is None:
            mine, theirs = block, ml
            continue
        for side in ("sqltrack", "raw"):
            for name, times in block[0][side].items():
                mine[0][side][name] += times
        for name, result in ml.items():
            theirs[name]["times"] += result["times"]
    return mine, theirs


def run_w3(cfg, mlflow_run) -> list[Case]:
    cases = []
    sizes = sorted({cfg.search_runs, cfg.mlflow_search_runs} if mlflow_run else {cfg.search_runs})
    measured = {}
    ml = ml_first = None
    for n in sizes:
        path, eid = stores.sqltrack_search_store(n, log=cfg.log)
        if mlflow_run and n == cfg.mlflow_search_runs:
            measured[n], ml = _with_mlflow(cfg, path, eid, mlflow_run)
            ml_first = {k: v["first"] for k, v in ml.items()}
        else:
            measured[n] = _sqltrack_searches(path, eid, cfg.search_reps)
    targets = {"selective": (0.020, "<= 20 ms median at 100k runs"), "match_all_1000": (0.100, "<= 100 ms"),
               "or": (None, ""), "aggregate": (None, "")}
    for n in sizes:
        (sides, first) = measured[n]
        for name in common.SEARCHES:
            filter_string, order_by, max_results = common.SEARCHES[name]
            label = f"{name}: {filter_string or '(all)'}" + (f" order by {order_by[0]}" if order_by else "") + \
                f", max_results={max_results}"
            size = f"{n:,} runs"
            mine = Sample(sides["sqltrack"][name], "s", size)
            raw = Sample(sides["raw"][name], "s", size, "hand-written SQL + dicts")
            theirs = None
            case = Case("W3", label, mine, None, raw, notes=[f"{len(mine.values)} timed repetitions (--search-reps)"])
            if ml is not None and n == cfg.mlflow_search_runs:
                if name in ml:
                    theirs = Sample(ml[name]["times"], "s", size)
                    case.notes.append(f"sqltrack and MLflow alternate in {MLFLOW_BLOCKS} blocks of repetitions")
                    same = ml_first[name] == first[name]
                    case.notes.append(f"same first runs as MLflow: {'yes' if same else 'NO'}")
                    case.target = ">= 50x MLflow"
                    case.met = (case.speedup_vs(theirs) or 0) >= 50
                else:
                    case.notes.append("MLflow 3.17.2 rejects this filter (no OR, no min())")
            case.mlflow = theirs
            limit, text = targets[name]
            if limit is not None and n == cfg.search_runs:
                case.target = text if n >= 100_000 else f"{text} (measured at {n:,} runs)"
                case.met = mine.median <= limit
            cases.append(case)
    return cases


# ----- W4 --------------------------------------------------------------------------------------------
def run_w4(cfg, mlflow_run) -> list[Case]:
    import sqltrack

    n = cfg.frame_runs
    path, eid = stores.sqltrack_search_store(n, log=cfg.log)
    sqltrack.set_tracking_uri(str(path))
    frame = sqltrack.search_runs([eid], max_results=n)
    shape = frame.shape
    raw = RawReader(path)
    raw_shape = raw.frame(eid).shape
    mine, floor = [], []
    for _ in range(cfg.reps):
        mine += _times(lambda: sqltrack.search_runs([eid], max_results=n), 1)
        floor += _times(lambda: raw.frame(eid), 1)
    sqltrack.flush()
    sqltrack.get_client().close()
    sqltrack.set_tracking_uri(None)
    theirs = None
    notes = [f"sqltrack frame {shape[0]:,} x {shape[1]}; raw {raw_shape[0]:,} x {raw_shape[1]}"]
    if mlflow_run:
        ml_path, ml_eid = stores.mlflow_search_store(cfg.mlflow_frame_runs, mlflow_run, log=cfg.log)
        out = mlflow_run("w4", {"path": str(ml_path), "experiment_id": ml_eid, "reps": cfg.reps,
                                "runs": cfg.mlflow_frame_runs})
        theirs = Sample(out["times"], "s", f"{cfg.mlflow_frame_runs:,} runs")
        notes.append(f"MLflow frame {out['shape'][0]:,} x {out['shape'][1]}")
        if cfg.mlflow_frame_runs != n:
            notes.append("MLflow measured at fewer runs: the speedup compares unequal sizes (per-run cost "
                         "scales about linearly)")
    case = Case("W4", "search_runs -> pandas DataFrame, every run", Sample(mine, "s", f"{n:,} runs x {shape[1]} cols"),
                theirs, Sample(floor, "s", f"{n:,} runs", "sqlite3 rows -> dict of columns -> DataFrame"),
                target="<= 0.5 s", notes=notes)
    case.met = case.sqltrack.median <= 0.5 and n >= 10_000
    return [case]


# ----- W5 --------------------------------------------------------------------------------------------
def run_w5(cfg, mlflow_run) -> list[Case]:
    from sqltrack import Client, Metric

    cases = []
    with tempfile.TemporaryDirectory(dir=cfg.tmp) as folder:
        path = Path(folder) / "w5.db"
        client = Client(path)
        run_id = client.create_run("0").info.run_id
        for steps in cfg.history_steps:
            key = f"h{steps}"
            for start in range(0, steps, 100_000):
                client.log_batch(run_id, metrics=[Metric(key, 1.0 / (s + 1), common.BASE_TIME + s, s)
                                                  for s in range(start, min(steps, start + 100_000))])
        rid = client.store.cached_run_id(run_id)
        raw = RawReader(path)
        theirs = {}
        if mlflow_run:
            ml_steps = [s for s in cfg.history_steps if s <= cfg.mlflow_history_max]
            theirs = mlflow_run("w5", {"path": str(Path(folder) / "ml5.db"), "steps": ml_steps, "reps": cfg.reps})
        for steps in cfg.history_steps:
            key = f"h{steps}"
            assert len(client.get_metric_history(run_id, key)) == steps
            mine, floor = [], []
            for _ in range(cfg.reps):
                mine += _times(lambda key=key: client.get_metric_history(run_id, key), 1)
                floor += _times(lambda key=key: raw.history(rid, key), 1)
            ml = theirs.get(str(steps))
            target = {10_000: 0.010, 1_000_000: 1.0}.get(steps)
            case = Case("W5", f"get_metric_history, {steps:,} steps", Sample(mine, "s", f"{steps:,} points"),
                        Sample(ml["times"], "s", f"{steps:,} points") if ml else None,
                        Sample(floor, "s", f"{steps:,} points", "SELECT ... ORDER BY step -> tuples"),
                        target=f"<= {target * 1000:g} ms" if target else "")
            if target:
                case.met = case.sqltrack.median <= target
            if ml is None and mlflow_run:
                case.notes.append(f"MLflow not measured above {cfg.mlflow_history_max:,} points (time budget)")
            cases.append(case)
        client.close()
    return cases
