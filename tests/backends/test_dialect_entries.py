"""Each dialect difference, checked through the public API on every backend (``client`` is backend-parametrised).

LIKE/ILIKE, NaN/±inf/-0.0/subnormals, numeric param comparison, upserts, string order,
and the key-length limits of indexes (64 KB and 1 MB params on PostgreSQL's btree and
MySQL's prefix indexes). The expected answers are written once: every backend must give them.
"""

from __future__ import annotations

import math
import random

import pytest

from sqltrack import Metric, Param, RunTag

INF, NAN, MAX = math.inf, math.nan, 1.7976931348623157e308


def _runs(client, count: int, experiment: str = "dialects") -> tuple[str, list[str]]:
    eid = client.create_experiment(experiment)
    return eid, [client.create_run(eid, run_name=f"r{i}", start_time=1_000 + i).info.run_id for i in range(count)]


def _names(client, eid: str, filter_string: str = "", order_by=None) -> list[str]:
    found = client.search_runs([eid], filter_string, order_by=order_by, max_results=None)
    return [run.info.run_name for run in found]


# -- LIKE / ILIKE / equality on strings ------------------------------------------------------

STRINGS = ["Abc", "abc", "aBC", "abc ", "a_c", "a%c", "a\\c", "äbc", "ÄBC", "x"]


@pytest.fixture
def tagged(client):
    eid, ids = _runs(client, len(STRINGS))
    for run_id, value in zip(ids, STRINGS, strict=True):
        client.set_tag(run_id, "t", value)
        client.log_param(run_id, "p", value)
    client.flush()
    return client, eid


@pytest.mark.parametrize("filter_string, expected", [
    ("tags.t LIKE 'a%'", ["r1", "r2", "r3", "r4", "r5", "r6"]),        # case-sensitive: not 'Abc'
    ("tags.t LIKE 'A%'", ["r0"]),
    ("tags.t LIKE 'a_c'", ["r1", "r4", "r5", "r6"]),                    # '_' is one character
    ("tags.t LIKE 'a\\c'", ["r6"]),                                      # a backslash is an ordinary character
    ("tags.t LIKE '%c '", ["r3"]),
    ("tags.t LIKE 'ä%'", ["r7"]),
    ("tags.t ILIKE 'abc'", ["r0", "r1", "r2"]),                          # folds ASCII case, keeps the space
    ("tags.t ILIKE 'ABC%'", ["r0", "r1", "r2", "r3"]),
    ("tags.t = 'abc'", ["r1"]),                                          # exact: case and trailing space
    ("tags.t != 'abc'", ["r0", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]),
    ("tags.t IN ('abc', 'ÄBC')", ["r1", "r8"]),
    ("params.p = 'aBC'", ["r2"]),
    ("params.p LIKE '%B%'", ["r2", "r8"]),
    ("params.p LIKE 'a_c'", ["r1", "r4", "r5", "r6"]),
    ("params.p LIKE '_bc'", ["r0", "r1", "r7"]),                         # '_' is one character, 'ä' too
    ("params.p ILIKE 'abc'", ["r0", "r1", "r2"]),                        # folds case, not accents
    ("params.p IN ('Abc', 'abc ')", ["r0", "r3"]),
])
def test_string_comparisons(tagged, filter_string, expected):
    client, eid = tagged
    assert sorted(_names(client, eid, filter_string)) == expected


def test_strings_sort_in_code_point_order(tagged):
    client, eid = tagged
    by_value = dict(zip(STRINGS, (f"r{i}" for i in range(len(STRINGS))), strict=True))
    assert _names(client, eid, order_by=["params.p ASC"]) == [by_value[v] for v in sorted(STRINGS)]
    assert _names(client, eid, order_by=["tags.t DESC"]) == [by_value[v] for v in sorted(STRINGS, reverse=True)]


def test_keys_and_names_differing_by_case_or_a_trailing_space_are_distinct(client, tmp_path):
    """MySQL's utf8mb4_bin ignores trailing spaces: key columns use a NO PAD collation there."""
    keys = ["loss", "loss ", "Loss", "löss"]
    for name in keys:
        client.create_experiment(f"exp {name}")
    assert {e.name for e in client.search_experiments()} >= {f"exp {name}" for name in keys}
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, metrics=[Metric(k, float(i), 1, 0) for i, k in enumerate(keys)],
                     params=[Param(k, str(i)) for i, k in enumerate(keys)],
                     tags=[RunTag(k, str(i)) for i, k in enumerate(keys)])
    data = client.get_run(run_id).data
    assert data.metrics == {k: float(i) for i, k in enumerate(keys)}
    assert data.params == {k: str(i) for i, k in enumerate(keys)}
    assert {k: data.tags[k] for k in keys} == {k: str(i) for i, k in enumerate(keys)}
    for index, name in enumerate(["a.txt", "a.txt ", "A.txt"]):
        client.log_text(run_id, str(index), f"files/{name}")
    assert [client.load_text(run_id, f"files/{n}") for n in ["a.txt", "a.txt ", "A.txt"]] == ["0", "1", "2"]
    eid = client.get_experiment_by_name("exp loss ").experiment_id
    assert client.get_experiment(eid).name == "exp loss "


# -- non-finite and extreme metric values ---------------------------------------------------

VALUES = [NAN, INF, -INF, MAX, -MAX, 0.0, -0.0, 5e-324, -1e-300, 0.1 + 0.2, 1.0]


@pytest.fixture
def valued(client):
    eid, ids = _runs(client, len(VALUES) + 1)  # the last run has no metric
    for run_id, value in zip(ids, VALUES, strict=False):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 10, 0), Metric("m", value, 20, 1)])
    return client, eid, ids


def test_values_round_trip_exactly(valued):
    client, _, ids = valued
    for run_id, value in zip(ids, VALUES, strict=False):
        latest = client.get_run(run_id).data.metrics["m"]
        history = [m.value for m in client.get_metric_history(run_id, "m")]
        for got in (latest, history[-1]):
            assert (math.isnan(got) and math.isnan(value)) or (
                got == value and math.copysign(1, got) == math.copysign(1, value)), (value, got)


@pytest.mark.parametrize("filter_string, expected", [
    ("metrics.m > 1e308", [1, 3]),                      # inf and max-float; NaN never compares
    ("metrics.m = 1.7976931348623157e308", [3]),       # max-float, not +inf (the same stored number on MariaDB)
    ("metrics.m >= 1.7976931348623157e308", [1, 3]),
    ("metrics.m < -1e308", [2, 4]),
    ("metrics.m = 0", [5, 6]),                          # -0.0 == 0.0
    ("metrics.m != 1", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),  # NaN != 1 is true
    ("metrics.m > 0 AND metrics.m < 1e-320", [7]),     # a subnormal stays a subnormal
    ("max(metrics.m) > 1e308", [1, 3]),
    ("min(metrics.m) < -1e308", [2, 4]),
    ("min(metrics.m) = 1", [0, 1, 3, 10]),             # NaN points are left out of min
    ("metrics.m IS NULL", [11]),
])
def test_non_finite_filters(valued, filter_string, expected):
    client, eid, _ = valued
    assert sorted(int(name[1:]) for name in _names(client, eid, filter_string)) == expected


def test_non_finite_ordering(valued):
    client, eid, _ = valued
    ascending = [int(name[1:]) for name in _names(client, eid, order_by=["metrics.m ASC"])]
    # -inf < -max < -1e-300 < 0 == -0 (then start_time DESC) < 5e-324 < 0.3 < 1 < max < inf, NaN, missing
    assert ascending == [2, 4, 8, 6, 5, 7, 9, 10, 3, 1, 0, 11]
    descending = [int(name[1:]) for name in _names(client, eid, order_by=["metrics.m DESC"])]
    assert descending == [1, 3, 10, 9, 7, 6, 5, 8, 4, 2, 0, 11]


def test_aggregates_keep_infinities(client):
    eid, [run_id] = _runs(client, 1)
    client.log_batch(run_id, metrics=[Metric("m", v, 1, s) for s, v in enumerate([3.0, INF, -INF, NAN, MAX])])
    assert client.get_run(run_id).data.metrics["m"] == MAX
    assert _names(client, eid, "max(metrics.m) > 1.7976931348623157e308") == ["r0"]  # +inf beats max-float
    assert _names(client, eid, "min(metrics.m) < -1.7976931348623157e308") == ["r0"]
    assert _names(client, eid, "count(metrics.m) = 5 AND first(metrics.m) = 3") == ["r0"]


# -- numbers in params ----------------------------------------------------------------------

def test_numeric_param_comparison(client):
    eid, ids = _runs(client, 6)
    for run_id, lr in zip(ids, ["0.1", "1e-3", "0.01", "abc", "10", " 2 "], strict=True):
        client.log_param(run_id, "lr", lr)
    client.flush()
    assert sorted(_names(client, eid, "params.lr < 0.05")) == ["r1", "r2"]
    assert sorted(_names(client, eid, "params.lr >= 2")) == ["r4", "r5"]
    assert _names(client, eid, "params.lr = '10'") == ["r4"]                 # as a string
    assert _names(client, eid, order_by=["number(params.lr) ASC"]) == ["r1", "r2", "r0", "r5", "r4", "r3"]


# -- upserts --------------------------------------------------------------------------------

def test_upserts_overwrite_in_place(client):
    eid, [run_id] = _runs(client, 1)
    for value in ("one", "two", "three"):
        client.set_tag(run_id, "stage", value, synchronous=True)
        client.set_experiment_tag(eid, "owner", value)
    client.log_batch(run_id, metrics=[Metric("m", 1.0, 5, 0)])
    client.log_batch(run_id, metrics=[Metric("m", 2.0, 6, 1)])  # latest_metrics row is upserted
    client.log_batch(run_id, metrics=[Metric("m", 2.0, 6, 1)])  # an exact duplicate changes nothing
    client.log_batch(run_id, params=[Param("p", "x")], tags=[RunTag("mlflow.runName", "renamed")])
    client.log_batch(run_id, params=[Param("p", "x")])          # the same param again is fine
    run = client.get_run(run_id)
    assert run.data.tags["stage"] == "three" and run.info.run_name == "renamed"
    assert client.get_experiment(eid).tags["owner"] == "three"
    assert run.data.metrics["m"] == 2.0 and len(client.get_metric_history(run_id, "m")) == 2


# -- key-length limits of indexes -----------------------------------------------------------

def _random_text(rnd: random.Random, length: int, alphabet: str) -> str:
    return "".join(rnd.choices(alphabet, k=length))


@pytest.mark.parametrize("size", [64 * 1024, 1_000_000])
def test_long_params_and_tags_are_stored_and_searched(client, size):
    rnd = random.Random(size)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789é€😀"
    long_value = _random_text(rnd, size, alphabet)  # incompressible, multibyte: no index trick can hide it
    eid, ids = _runs(client, 3)
    client.log_batch(ids[0], params=[Param("blob", long_value)], tags=[RunTag("blob", long_value)])
    client.log_batch(ids[1], params=[Param("blob", long_value[:-1] + "!")])  # differs only at the very end
    client.log_batch(ids[2], params=[Param("blob", "short")])
    assert client.get_run(ids[0]).data.params["blob"] == long_value
    assert client.get_run(ids[0]).data.tags["blob"] == long_value
    head = long_value[:300].replace("%", "").replace("_", "")
    assert sorted(_names(client, eid, f"params.blob LIKE '{head[:200]}%'")) == ["r0", "r1"]
    assert _names(client, eid, f"tags.blob LIKE '{head[:200]}%'") == ["r0"]
    assert _names(client, eid, "params.blob LIKE '%!'") == ["r1"]
    assert sorted(_names(client, eid, "params.blob != 'short'")) == ["r0", "r1"]
    expected = sorted([(long_value[:200], "r0"), (long_value[:-1][:200], "r1"), ("short", "r2")])
    assert _names(client, eid, order_by=["params.blob ASC"])[-1] == expected[-1][1]


def test_long_values_sort_past_a_common_prefix(client):
    """MySQL sorts strings on their first max_sort_length bytes (1024 by default; docs/team-server.md)."""
    common = "€" * 300  # 900 bytes of UTF-8
    values = [common + tail for tail in ("b", "a", "c", "")]
    eid, ids = _runs(client, len(values))
    for run_id, value in zip(ids, values, strict=True):
        client.log_param(run_id, "v", value)
    client.flush()
    assert _names(client, eid, order_by=["params.v ASC"]) == ["r3", "r1", "r0", "r2"]
    assert _names(client, eid, order_by=["params.v DESC"]) == ["r2", "r0", "r1", "r3"]


def test_equality_beyond_the_indexed_prefix(client):
    """Values sharing their first 300 characters: equality must still compare the whole value."""
    rnd = random.Random(7)
    common = _random_text(rnd, 300, "abcdef€😀")
    values = [common + tail for tail in ("", "x", "y" * 5000, "Y" * 5000)]
    eid, ids = _runs(client, len(values))
    for run_id, value in zip(ids, values, strict=True):
        client.log_param(run_id, "v", value)
        client.set_tag(run_id, "v", value)
    client.flush()
    for index, value in enumerate(values):
        assert _names(client, eid, f"params.v = '{value}'") == [f"r{index}"]
        assert _names(client, eid, f"tags.v = '{value}'") == [f"r{index}"]
    assert sorted(_names(client, eid, f"params.v IN ('{values[1]}', '{values[3]}')")) == ["r1", "r3"]
    assert sorted(_names(client, eid, f"params.v ILIKE '{values[2].upper()}'")) == ["r2", "r3"]
    assert sorted(_names(client, eid, f"params.v ILIKE '{common}Y%'")) == ["r2", "r3"]


def test_longest_keys_names_and_paths(client, tmp_path):
    rnd = random.Random(3)
    key = _random_text(rnd, 250, "😀€éabc")
    name = _random_text(rnd, 500, "😀€éabc")
    eid = client.create_experiment(name)
    run_id = client.create_run(eid).info.run_id
    client.log_batch(run_id, metrics=[Metric(key, 1.5, 1, 0)], params=[Param(key, "v")], tags=[RunTag(key, "t")])
    run = client.get_run(run_id)
    assert run.data.metrics[key] == 1.5 and run.data.params[key] == "v" and run.data.tags[key] == "t"
    assert client.get_experiment_by_name(name).experiment_id == eid
    # the longest artifact path: 700 characters, segments of at most 255 bytes of UTF-8
    segment = _random_text(rnd, 60, "😀€é")[:60]
    while len(segment.encode()) > 255:
        segment = segment[:-1]
    parts, total = [], 0
    while total + len(segment) + 1 <= 700:
        parts.append(segment)
        total += len(segment) + 1
    path = "/".join(parts)
    path += "/" + "x" * (700 - len(path) - 1)
    assert len(path) == 700
    source = tmp_path / "f.txt"
    source.write_text("deep")
    folder, _, file_name = path.rpartition("/")
    client.log_artifact(run_id, source, folder)
    client.log_text(run_id, "deep", path) if file_name != "f.txt" else None
    assert client.load_text(run_id, path) == "deep"
