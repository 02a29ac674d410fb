"""Differential test: the same runs in real MLflow 3.17 and in sqltrack give the same search results.

One deterministic data set (``DATA_SET``: the golden corpus' runs plus 36 generated ones, with
NaN/±inf/-0.0 and missing metrics, params, tags, every status, equal start times, a dropped
``mlflow.runName`` tag and deleted runs) is logged into MLflow's SQL store (``sqlite:///``),
into its file store (``MLFLOW_ALLOW_FILE_STORE=true``) and into sqltrack. MLflow runs in a
subprocess (``mlflow_search_tool.py``) and answers every query at once, as JSON.

Each query (the corpus' MLflow-valid cases, then ``OWN_CASES``: every prefix alias, quoting
style, comparator, IN/NOT IN on run_id, IS NULL, LIKE/ILIKE with case differences, numeric
attributes, order_by on metrics/params/tags/attributes both ways, ``max_results``, page tokens
and the three view types) must return the same runs in the same order, page by page.

Run ids: MLflow draws them from ``uuid4`` and sqltrack's ``Client.create_run`` has no id
argument, so both get the ids the data set chooses (the tool pins MLflow's; here the store's
``create_run(run_id=...)``). Start-time ties then break on the same ``run_id ASC``; results
are compared by run name.

Where MLflow's two stores disagree with each other, sqltrack follows the SQL store (its
documented behaviour, docs/grammar.md); such cases carry ``file_store=<why>`` and assert
that the file store really does differ, so a fix in MLflow shows up here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="the differential test compares against real MLflow "
                                     "(pip install mlflow-skinny==3.17.2, in the 'test' extra)")

from sqltrack import Client  # noqa: E402
from sqltrack.entities import Metric, Param, RunTag  # noqa: E402
from sqltrack.errors import InvalidParameter  # noqa: E402
from sqltrack.store import batch  # noqa: E402
from sqltrack.store import runs as store_runs  # noqa: E402

from .corpus import load_cases  # noqa: E402
from .store_builder import golden_runs  # noqa: E402

TOOL = Path(__file__).with_name("mlflow_search_tool.py")
NAN, INF = math.nan, math.inf
EXPERIMENTS = ("main", "other")
STORES = ("sql", "file")
CORPUS_EXPERIMENTS = {1: "main", 2: "other"}


# ---- the data set ------------------------------------------------------------------------

@dataclass
class Run:
    """One run as logged into every store."""

    name: str
    run_id: str
    experiment: str = "main"
    start_time: int = 0
    end_time: int | None = None
    status: str = "FINISHED"
    user: str = "unknown"
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)   # key -> [(step, timestamp, value)]
    deleted: bool = False
    drop_run_name_tag: bool = False


def _from_golden() -> list[Run]:
    """The corpus' runs. MLflow cannot store a NULL start time or user, so those get values."""
    out = []
    for spec in golden_runs():
        out.append(Run(
            name=spec.label, run_id=spec.uuid, experiment=CORPUS_EXPERIMENTS[spec.experiment_id],
            start_time=spec.start_time if spec.start_time is not None else 3000,  # ties gamma and delta
            end_time=spec.end_time, status=spec.status, user=spec.user_id or "unknown",
            params=dict(spec.params), metrics={k: list(v) for k, v in spec.metrics.items()},
            tags={k: v for k, v in spec.tags.items() if k != "mlflow.runName"},
            deleted=spec.lifecycle_stage == "deleted",
            # eta has a name but no mlflow.runName tag (the corpus relies on it)
            drop_run_name_tag="mlflow.runName" not in spec.tags))
    return out


_LOSS = [0.5, 0.25, NAN, INF, -INF, 0.0, 1.0, 0.25, 2.5, -1.0, 0.75, 0.5, -0.0, 3.0, 0.1, 0.25, 7.0, NAN]
_ACC = [0.9, 0.8, 0.9, NAN, 0.1, 0.5, 0.95, 0.8, -INF, 0.3, 0.9, INF]
_LR = ["0.1", "0.01", "0.001", "1e-3", "10", "9", "abc", "0.05", None]
_OPT = ["adam", "Adam", "ADAM", "sgd", "SGD", "Ädam", "ädam", None]
_OWNER = ["alice", "Alice", "bob", "carol", None]
_TEAM = ["vision", "Vision", "nlp", None, "NLP"]
_STATUS = ["FINISHED", "FAILED", "RUNNING", "FINISHED", "KILLED", "SCHEDULED"]
_USERS = ["alice", "Alice", "bob", "carol"]


def _generated(index: int) -> Run:
    name = f"g{index:02d}"
    if index < 20:
        start = 10_000 + 37 * index                   # distinct
    else:
        start = 20_000 + 100 * ((index - 20) // 3)    # groups of three equal start times
    status = _STATUS[index % len(_STATUS)]
    unfinished = status in ("RUNNING", "SCHEDULED") or (status == "KILLED" and index % 2)
    run = Run(name, hashlib.md5(name.encode()).hexdigest(), start_time=start,
              end_time=None if unfinished else start + 50 + index, status=status,
              user=_USERS[index % len(_USERS)], deleted=index in (3, 11, 24, 33))
    run.metrics = _generated_metrics(index)
    run.params = _generated_params(index)
    run.tags = _generated_tags(index)
    return run


def _loss_history(index: int) -> list[tuple[int, int, float]]:
    last = _LOSS[index % len(_LOSS)]
    if index % 10 == 6:     # same step and timestamp: the larger value is the latest
        return [(1, 10, 0.125), (1, 10, 0.0625)]
    if index % 9 == 4:      # same step: the later timestamp wins
        return [(3, 10, 42.0), (3, 20, last)]
    if index % 4 == 0:      # the latest point is by step, not by timestamp
        return [(2, 50, last), (1, 900, -50.0)]
    return [(0, 100, 9.0 + index), (1, 110, last)]


def _generated_metrics(index: int) -> dict:
    metrics = {}
    if index % 7 != 5:
        metrics["loss"] = _loss_history(index)
    if index % 5 != 2:
        metrics["accuracy"] = [(0, 100, _ACC[index % len(_ACC)])]
    if index % 3 == 0:
        metrics["val loss"] = [(0, 100, 0.1 * (index % 6))]
    if index % 4 == 1:
        metrics["f1-score"] = [(0, 100, 0.25 * (index % 5))]
    if index % 6 == 0:
        metrics["mse"] = [(0, 100, [0.15, 0.3, INF, 0.05][index // 6 % 4])]
    return metrics


def _generated_params(index: int) -> dict:
    params = {key: value for key, value in (("lr", _LR[index % len(_LR)]), ("opt", _OPT[index % len(_OPT)]))
              if value is not None}
    if index % 2 == 0:
        params["batch_size"] = ["32", "64", "None", "128"][index // 2 % 4]
    if index % 3 == 1:
        params["model"] = ["LogisticRegression", "RandomForest", "L'Hosp", "Lasso"][index // 3 % 4]
    return params


def _generated_tags(index: int) -> dict:
    tags = {key: value for key, value in (("owner", _OWNER[index % len(_OWNER)]), ("team", _TEAM[index % len(_TEAM)]))
            if value is not None}
    tags["priority"] = ["1", "2", "10", "9", ""][index % 5]
    tags["mlflow.source.type"] = "JOB" if index % 3 else "LOCAL"
    if index % 8 == 3:
        tags["ünï"] = "värde"
    if index % 11 == 7:
        tags["title"] = "[wip] x*y?z"
    return tags


def _other(index: int) -> Run:
    name = f"h{index}"
    return Run(name, hashlib.md5(name.encode()).hexdigest(), experiment="other", start_time=15_000 + index * 10,
               end_time=15_100, user=_USERS[index], metrics={"loss": [(0, 1, [0.3, NAN, 0.2, 5.0][index])]},
               params={"opt": ["adam", "sgd", "Adam", "adam"][index]}, tags={"team": "nlp"},
               deleted=index == 3)


DATA_SET: list[Run] = _from_golden() + [_generated(i) for i in range(36)] + [_other(i) for i in range(4)]
ID = {run.name: run.run_id for run in DATA_SET}
NAME_OF = {run.run_id: run.name for run in DATA_SET}


# ---- the queries -------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    """One search, asked of every store."""

    id: str
    filter: str | None = None
    order_by: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ("main",)
    view: str = "ACTIVE_ONLY"
    max_results: int = 1000
    page_size: int | None = None     # set: fetch every page with this max_results
    file_store: str = ""             # why MLflow's file store differs from its SQL store here
    stores: tuple[str, ...] = STORES  # the MLflow stores asked


def _with_ids(text: str) -> str:
    """``<id:g07>`` → g07's run id."""
    return re.sub(r"<id:(\w+)>", lambda m: ID[m.group(1)], text)


def _corpus_queries() -> tuple[list[Query], list[Query], list[Query]]:
    """(MLflow-valid cases, cases both must reject, sqltrack extensions MLflow must reject)."""
    valid, errors, extensions = [], [], []
    for case in load_cases():
        query = Query(f"corpus-L{case.line}", case.filter, tuple(case.order_by),
                      tuple(CORPUS_EXPERIMENTS[e] for e in case.experiments), case.view)
        if case.mlflow == "rejects":
            extensions.append(query)
        elif case.error is not None:
            errors.append(replace(query, file_store=_DUPLICATE_ORDER if "duplicate" in case.error else ""))
        else:
            valid.append(query)
    return valid, errors, extensions


#: Filters on run_name that would select eta, whose mlflow.runName tag was deleted: the SQL
#: store (and sqltrack, docs/grammar.md) filter names on the tag, the file store on meta.yaml.
_RUN_NAME_TAG = "file store filters run_name on meta.yaml's name, the SQL store on the mlflow.runName tag"
#: SQLite's lower() folds ASCII only: the SQL store's ILIKE (and sqltrack's on SQLite) leave
#: 'Ä'/'ä' apart; the file store's re.IGNORECASE folds them.
_UNICODE_ILIKE = "file store ILIKE folds non-ASCII letters (re.IGNORECASE), SQLite's lower() only ASCII"
#: The SQL store rejects an order_by naming the same field twice; the file store lets the first win.
_DUPLICATE_ORDER = "file store accepts duplicate order_by fields (spec §6.1), the SQL store rejects them"


def _own_queries() -> list[Query]:
    filters = [
        # every prefix alias, and backticks around a prefix
        "metric.loss < 0.6", "metrics.loss < 0.6", "`metrics`.loss < 0.6",
        "param.opt = 'adam'", "params.opt = 'adam'", "parameter.opt = 'adam'", "parameters.opt = 'adam'",
        "`params`.opt = 'adam'", "tag.owner = 'bob'", "tags.owner = 'bob'", "`tags`.owner = 'bob'",
        "attribute.status = 'FAILED'", "attributes.status = 'FAILED'", "attr.status = 'FAILED'",
        "run.status = 'FAILED'", "status = 'FAILED'", "`attributes`.status = 'SCHEDULED'",
        # quoting styles of keys and values
        "metrics.`val loss` > 0.3", 'metrics."val loss" > 0.3', "metrics.'val loss' > 0.3",
        'metrics."f1-score" >= 0.5', "metrics.`f1-score` < 0.5", "tags.`ünï` = 'värde'", 'params.opt = "sgd"',
        "params.model = \"L'Hosp\"", "tags.`mlflow.source.type` = 'JOB'", "tags.mlflow.source.type = 'LOCAL'",
        "tags.priority = ''", 'tags.priority != ""',
        # metric comparators, NaN, ±inf, -0.0 and missing keys
        "metrics.loss = 0.25", "metrics.loss != 0.25", "metrics.loss < 0", "metrics.loss <= 0", "metrics.loss > 0.5",
        "metrics.loss >= 0.5", "metrics.loss = 0", "metrics.loss = -0.0", "metrics.loss != 0",
        "metrics.loss > 1e308", "metrics.loss < -1e308", "metrics.loss >= -1e308",
        "metrics.accuracy >= .5", "metrics.accuracy < 1E0", "metrics.accuracy > -1.5e-3", "metrics.accuracy != 0.9",
        "metrics.accuracy = 9e-1", "metrics.mse <= 0.15",
        # params and tags: comparators, LIKE/ILIKE and case
        "params.opt != 'adam'", "params.opt LIKE 'a%'", "params.opt like 'A%'", "params.opt ILIKE 'a%'",
        "params.opt ilike 'ADAM'", "params.opt LIKE '_dam'", "params.opt ILIKE '%DA%'", "params.opt ILIKE 'ä%'",
        "params.opt ILIKE 'ÄDAM'", "params.opt LIKE 'Ä%'", "params.lr LIKE '0.0_'",
        "params.lr = '1e-3'", "params.lr != '0.1'", "tags.team LIKE 'v%'", "tags.team ILIKE 'V%'", "tags.team != 'nlp'",
        "tags.team LIKE 'NLP'", "tags.priority = '10'", "tags.title LIKE '[wip]%'", "tags.title LIKE '%*y?z'",
        "params.batch_size != 'None'", "params.batch_size = 'None'", "params.model LIKE '%o%'",
        # IS [NOT] NULL on params and tags
        "params.lr IS NULL", "params.lr IS NOT NULL", "tags.team IS NULL", "tags.team is not null",
        "params.opt IS NULL AND tags.owner IS NOT NULL", "tags.title IS NOT NULL",
        # IN / NOT IN on run_id
        "run_id IN ('<id:g01>', '<id:g05>', '<id:g24>')", "attributes.run_id NOT IN ('<id:g01>', '<id:g05>')",
        'run_id IN ("<id:g02>", "<id:g03>",)', "run_id IN ('<id:g07>')", "run_id = '<id:g07>'",
        "run_id != '<id:g07>'", "attr.run_id in ('<id:g10>', 'nope')", "run_id NOT IN ('<id:g33>')",
        # numeric attributes
        "start_time >= 20000", "start_time = 20100", "attributes.created < 10500", "attributes.Created > 10000",
        "end_time > 15000", "end_time <= 20150", "start_time != 20000", "start_time > 10100.5", "end_time < 0",
        "run.end_time >= 1000 AND start_time < 20000",
        # string attributes
        "run_name = 'g04'", "attributes.run_name LIKE 'g1%'", "attributes.`Run Name` ILIKE 'G0%'",
        "attributes.\"run name\" != 'g02'", "attributes.`Run name` = 'g33'", "user_id = 'Alice'",
        "user_id ILIKE 'alice'", "user_id LIKE 'a%'", "user_id != 'bob'", "status LIKE '%ED'",
        "status ILIKE 'running'", "status != 'RUNNING'", "artifact_uri LIKE '%<id:g07>%'",
        # several clauses
        "metrics.loss < 1 and params.opt != 'sgd' and tags.team LIKE '%i%'",
        "metrics.accuracy > 0.2 AND status = 'FINISHED' AND user_id != 'bob'",
        "params.lr IS NOT NULL AND metrics.loss >= 0 AND start_time > 10000",
    ]
    queries = [Query(f"filter-{i:03d}", _with_ids(text)) for i, text in enumerate(filters)]
    differs = {"params.opt ILIKE 'ä%'": _UNICODE_ILIKE, "params.opt ILIKE 'ÄDAM'": _UNICODE_ILIKE,
               "attributes.\"run name\" != 'g02'": _RUN_NAME_TAG}
    queries = [replace(q, file_store=differs.get(q.filter, "")) for q in queries]
    orders = [
        ("metrics.loss",), ("metrics.loss DESC",), ("metric.accuracy asc",), ("metrics.accuracy DESC",),
        ("metrics.`val loss` DESC",), ('metrics."val loss"',), ("metrics.'val loss' DESC",), ("metrics.mse",),
        ("params.lr",), ("params.lr DESC",), ("param.opt",), ("parameters.batch_size DESC",), ("params.model",),
        ("tags.priority",), ("tags.owner DESC",), ("tag.team",), ("tags.`ünï`",), ("tags.priority DESC",),
        ("start_time",), ("attributes.start_time DESC",), ("created",), ("Created DESC",), ("end_time",),
        ("end_time DESC",), ("status",), ("attr.status DESC",), ("run_name",), ("attributes.run_name DESC",),
        ("user_id",), ("run.user_id DESC",), ("run_id",), ("run_id DESC",), ("artifact_uri",),
        ("artifact_uri DESC",), ("status", "metrics.loss DESC"), ("tags.team", "params.opt DESC", "start_time"),
        ("params.batch_size", "metrics.accuracy"), ("user_id DESC", "end_time"),
        ("metrics.`f1-score` DESC", "run_name"), ("tags.owner", "run_id DESC"), ("end_time DESC", "status"),
    ]
    queries += [Query(f"order-{i:03d}", None, order) for i, order in enumerate(orders)]
    combined = [
        ("metrics.loss >= 0", ("metrics.loss DESC",)), ("params.lr IS NOT NULL", ("params.lr",)),
        ("tags.team ILIKE 'v%'", ("tags.team DESC", "metrics.accuracy")),
        ("status != 'RUNNING'", ("end_time", "run_id DESC")), ("start_time >= 20000", ("metrics.loss",)),
        ("user_id LIKE '%a%'", ("params.opt", "tags.owner DESC")),
    ]
    queries += [Query(f"filter-order-{i:03d}", f, o) for i, (f, o) in enumerate(combined)]
    scoped = [(None, ()), ("metrics.loss < 1", ("metrics.loss",)), ("status != 'RUNNING'", ("start_time",)),
              ("params.opt LIKE '%d%'", ("params.opt DESC",)), (None, ("end_time DESC",))]
    for view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        for i, (f, o) in enumerate(scoped):
            for experiments in (("main",), ("main", "other"), ("other",)):
                queries.append(Query(f"view-{view}-{i}-{'+'.join(experiments)}", f, o, experiments, view))
    paged = [(None, ()), ("metrics.loss < 1", ("metrics.loss DESC",)), (None, ("params.opt", "tags.team DESC")),
             (None, ("end_time",)), ("params.lr IS NOT NULL", ("params.lr DESC", "run_name"))]
    for size in (1, 4, 7):
        # the file store re-reads every run for every page: one-run pages only on the SQL store
        stores = ("sql",) if size == 1 else STORES
        for i, (f, o) in enumerate(paged):
            queries.append(Query(f"pages-{size}-{i}", f, o, ("main", "other"), "ALL", page_size=size, stores=stores))
    for limit in (1, 5, 13):
        queries.append(Query(f"max-results-{limit}", None, ("metrics.loss",), max_results=limit))
        queries.append(Query(f"max-results-{limit}-filtered", "status = 'FINISHED'", ("start_time",),
                             max_results=limit))
    return queries


CORPUS_VALID, CORPUS_ERRORS, CORPUS_EXTENSIONS = _corpus_queries()
OWN_CASES = _own_queries()
#: Corpus cases whose filter would select eta through its name (see _RUN_NAME_TAG).
_CORPUS_FILE_STORE = {"run_name LIKE '%a'": _RUN_NAME_TAG, "attributes.run_name = 'eta'": _RUN_NAME_TAG}
CORPUS_VALID = [replace(q, file_store=_CORPUS_FILE_STORE.get(q.filter or "", "")) for q in CORPUS_VALID]
SAME_RESULT_CASES = CORPUS_VALID + OWN_CASES
#: MLflow quirks that sqltrack deliberately rejects (docs/grammar.md, "Not reproduced").
NOT_REPRODUCED = [
    Query("quirk-quoted-prefix-order", None, ('"metrics".loss DESC',)),   # shlex strips the quotes
    # Python's literal_eval joins adjacent strings: MLflow reads this as g07's id
    Query("quirk-implicit-concatenation", f"run_id IN ('{ID['g07'][:16]}' '{ID['g07'][16:]}')"),
]
ALL_QUERIES = SAME_RESULT_CASES + CORPUS_ERRORS + CORPUS_EXTENSIONS + NOT_REPRODUCED


# ---- running the stores ------------------------------------------------------------------

def _spec(store: str, tracking_uri: str, artifact_root: Path) -> dict:
    return {
        "tracking_uri": tracking_uri,
        "experiments": [{"name": e, "artifact_location": (artifact_root / e).as_uri()} for e in EXPERIMENTS],
        "runs": [vars(run) for run in DATA_SET],
        "queries": [{"id": q.id, "filter": q.filter, "order_by": list(q.order_by), "experiments": list(q.experiments),
                     "view": q.view, "max_results": q.max_results, "page_size": q.page_size}
                    for q in ALL_QUERIES if store in q.stores],
    }


def _start_mlflow(root: Path, store: str, uri: str) -> tuple[subprocess.Popen, Path]:
    spec_path, out_path = root / f"{store}-spec.json", root / f"{store}-out.json"
    spec_path.write_text(json.dumps(_spec(store, uri, root / f"{store}-artifacts")), encoding="utf-8")
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet",
           "MLFLOW_ENABLE_ASYNC_LOGGING": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, str(TOOL), str(spec_path), str(out_path)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out_path


def _finish_mlflow(proc: subprocess.Popen, out_path: Path) -> dict:
    _stdout, stderr = proc.communicate(timeout=900)
    if proc.returncode != 0:
        return {"failed": stderr[-4000:]}
    return json.loads(out_path.read_text(encoding="utf-8"))


def _log_into_sqltrack(path: Path) -> tuple[Client, dict]:
    client = Client(path)
    experiments = {name: client.create_experiment(name) for name in EXPERIMENTS}
    for run in DATA_SET:
        tags = batch.prepare_tags({"mlflow.runName": run.name, "mlflow.user": run.user})
        # Client.create_run draws a random id; the store function takes the data set's id.
        store_runs.create_run(client.store, experiments[run.experiment], run_name=run.name, user_id=run.user,
                              start_time=run.start_time, tags_=tags, run_id=run.run_id)
        client.log_batch(run.run_id,
                         metrics=[Metric(k, v, t, s) for k, points in run.metrics.items() for s, t, v in points],
                         params=[Param(k, v) for k, v in run.params.items()],
                         tags=[RunTag(k, v) for k, v in run.tags.items()])
        if run.status != "RUNNING":
            if run.end_time is None:
                client.update_run(run.run_id, status=run.status)
            else:
                client.set_terminated(run.run_id, status=run.status, end_time=run.end_time)
        if run.drop_run_name_tag:
            client.delete_tag(run.run_id, "mlflow.runName")
        if run.deleted:
            client.delete_run(run.run_id)
    return client, experiments


def _search_sqltrack(client: Client, experiments: dict, query: Query) -> dict:
    ids = [experiments[name] for name in query.experiments]
    view = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}[query.view]
    args = (ids, query.filter or "", view)
    try:
        if query.page_size is None:
            found = client.search_runs(*args, query.max_results, list(query.order_by))
            return {"ids": [r.info.run_id for r in found], "token": found.token is not None}
        pages, token = [], None
        while True:
            found = client.search_runs(*args, query.page_size, list(query.order_by), token)
            pages.append([r.info.run_id for r in found])
            token = found.token
            if not token:
                break
        return {"ids": [i for page in pages for i in page], "pages": pages}
    except InvalidParameter as error:
        return {"error": str(error)}


@dataclass
class Results:
    sqltrack: dict
    mlflow: dict   # store ("sql", "file") -> the tool's output


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Results:
    root = tmp_path_factory.mktemp("differential")
    started = {"sql": _start_mlflow(root, "sql", f"sqlite:///{root / 'mlflow.db'}"),
               "file": _start_mlflow(root, "file", (root / "mlruns").as_uri())}
    client, experiments = _log_into_sqltrack(root / "sqltrack.db")
    try:
        ours = {q.id: _search_sqltrack(client, experiments, q) for q in ALL_QUERIES}
    finally:
        client.close()
    return Results(ours, {store: _finish_mlflow(*proc_out) for store, proc_out in started.items()})


def _mlflow_output(results: Results, store: str) -> dict:
    output = results.mlflow[store]
    if "failed" in output:
        if store == "sql":
            pytest.fail(f"MLflow's SQL store failed:\n{output['failed']}")
        pytest.skip(f"MLflow's file store is not available here:\n{output['failed'][-600:]}")
    return output


def _names(answer: dict) -> list[str] | str:
    if "error" in answer:
        return f"error: {answer['error']}"
    return [NAME_OF.get(run_id, run_id) for run_id in answer["ids"]]


def _pages(answer: dict) -> list[list[str]] | None:
    if "pages" not in answer:
        return None
    return [[NAME_OF.get(run_id, run_id) for run_id in page] for page in answer["pages"]]


# ---- tests -------------------------------------------------------------------------------

def test_enough_cases_and_a_rich_data_set():
    assert len(SAME_RESULT_CASES) >= 60
    main = [run for run in DATA_SET if run.experiment == "main"]
    assert len(main) >= 30 and len({run.name for run in DATA_SET}) == len(DATA_SET)
    starts = [run.start_time for run in main]
    assert len(set(starts)) < len(starts), "some equal start times exercise the run_id tie-break"
    values = [v for run in DATA_SET for points in run.metrics.values() for _s, _t, v in points]
    assert any(v != v for v in values) and INF in values and -INF in values
    assert {run.status for run in DATA_SET} >= {"FINISHED", "FAILED", "RUNNING", "KILLED"}
    assert any(run.deleted for run in main) and any(run.drop_run_name_tag for run in main)


@pytest.mark.parametrize("store", STORES)
def test_mlflow_holds_the_data_set_under_our_ids(results, store):
    output = _mlflow_output(results, store)
    assert output["created"] == ID
    everything = output["results"]["view-ALL-0-main+other"]
    assert sorted(_names(everything)) == sorted(ID)


def _cases(queries: list[Query]) -> list:
    """(store, query) pairs."""
    return [pytest.param(store, q, id=f"{q.id}-{store}") for q in queries for store in q.stores]


@pytest.mark.parametrize(("store", "query"), _cases(SAME_RESULT_CASES))
def test_same_runs_in_the_same_order(results, store, query):
    theirs = _mlflow_output(results, store)["results"][query.id]
    ours = results.sqltrack[query.id]
    assert "error" not in theirs, f"MLflow ({store} store) rejects {query}: {theirs['error']}"
    if store == "file" and query.file_store:
        # MLflow's stores disagree here; sqltrack follows the SQL store (see the module docstring).
        sql_answer = _mlflow_output(results, "sql")["results"][query.id]
        assert _names(ours) == _names(sql_answer)
        assert _names(ours) != _names(theirs), f"the file store no longer differs ({query.file_store})"
        return
    assert _names(ours) == _names(theirs), query
    assert _pages(ours) == _pages(theirs)
    assert ours.get("token") == theirs.get("token")


@pytest.mark.parametrize(("store", "query"), _cases(CORPUS_ERRORS))
def test_both_reject(results, store, query):
    theirs = _mlflow_output(results, store)["results"][query.id]
    assert "error" in results.sqltrack[query.id]
    if store == "file" and query.file_store:
        # sqltrack rejects, as MLflow's SQL store does; the file store accepts (see query.file_store)
        assert "error" in _mlflow_output(results, "sql")["results"][query.id]
        assert "error" not in theirs, f"the file store no longer differs ({query.file_store})"
        return
    assert "error" in theirs, f"MLflow ({store} store) accepts {query}: {_names(theirs)}"


@pytest.mark.parametrize("query", CORPUS_EXTENSIONS, ids=lambda q: q.id)
def test_corpus_extensions_are_rejected_by_mlflow(results, query):
    """The corpus' ``mlflow: rejects`` markers are true: these are sqltrack extensions."""
    theirs = _mlflow_output(results, "sql")["results"][query.id]
    assert "error" in theirs, f"MLflow accepts {query}: {_names(theirs)}"
    assert "error" not in results.sqltrack[query.id]


@pytest.mark.parametrize("query", NOT_REPRODUCED, ids=lambda q: q.id)
def test_mlflow_quirks_that_sqltrack_rejects(results, query):
    """MLflow's SQL store accepts these; sqltrack rejects them on purpose (docs/grammar.md)."""
    theirs = _mlflow_output(results, "sql")["results"][query.id]
    assert "error" not in theirs and _names(theirs), theirs
    assert "error" in results.sqltrack[query.id]
