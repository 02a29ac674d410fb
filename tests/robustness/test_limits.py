"""Documented limits, tested at the edge through the public API: the limit works, one more is a clear error.

Limits (README "Guarantees"): keys 250 characters; param and tag values 1,000,000
characters (MLflow: 6,000 / 8,000); 100,000 metric points per batch call; artifact paths
700 characters with names of at most 255 bytes.
"""

from __future__ import annotations

import pytest

from sqltrack import Metric, Param, RunTag
from sqltrack.artifacts.paths import MAX_PATH_CHARS, MAX_SEGMENT_BYTES
from sqltrack.errors import InvalidArtifactPath, InvalidParameter
from sqltrack.store.validation import MAX_BATCH_POINTS, MAX_KEY_LENGTH, MAX_VALUE_LENGTH


def test_the_documented_numbers():
    assert (MAX_KEY_LENGTH, MAX_VALUE_LENGTH, MAX_BATCH_POINTS) == (250, 1_000_000, 100_000)
    assert (MAX_PATH_CHARS, MAX_SEGMENT_BYTES) == (700, 255)


@pytest.fixture
def run_id(client):
    return client.create_run("0").info.run_id


@pytest.mark.parametrize("size", [6_001, 64 * 1024, MAX_VALUE_LENGTH])
def test_long_param_and_tag_values_round_trip(client, run_id, size):
    value = ("é€𝄞a" * (size // 4 + 1))[:size]  # multi-byte characters: the limit counts characters
    client.log_param(run_id, "long", value)
    client.set_tag(run_id, "long", value)
    data = client.get_run(run_id).data
    assert data.params["long"] == value and data.tags["long"] == value


def test_one_character_too_many_is_a_clear_error(client, run_id):
    for call in (lambda v: client.log_param(run_id, "p", v), lambda v: client.set_tag(run_id, "t", v),
                 lambda v: client.log_batch(run_id, params=[Param("p", v)])):
        with pytest.raises(InvalidParameter, match=r"1,000,001 characters; the limit is 1,000,000"):
            call("x" * (MAX_VALUE_LENGTH + 1))
    assert client.get_run(run_id).data.params == {}


def test_keys_of_250_characters_work_everywhere(client, run_id):
    key = ("ключ/" * 60)[:MAX_KEY_LENGTH - 1] + "k"
    assert len(key) == MAX_KEY_LENGTH
    client.log_batch(run_id, metrics=[Metric(key, 1.5, 0, 0)], params=[Param(key, "v")], tags=[RunTag(key, "t")])
    data = client.get_run(run_id).data
    assert data.metrics[key] == 1.5 and data.params[key] == "v" and data.tags[key] == "t"
    found = client.search_runs(["0"], f"metrics.`{key}` > 1 and params.`{key}` = 'v'")
    assert [r.info.run_id for r in found] == [run_id]


def test_key_of_251_characters_is_a_clear_error(client, run_id):
    key = "k" * (MAX_KEY_LENGTH + 1)
    for call in (lambda: client.log_metric(run_id, key, 1.0), lambda: client.log_param(run_id, key, 1),
                 lambda: client.set_tag(run_id, key, 1)):
        with pytest.raises(InvalidParameter, match="is 251 characters; the limit is 250"):
            call()


def test_a_batch_of_exactly_100000_points_is_stored_whole(client, run_id):
    client.log_batch(run_id, metrics=[Metric("m", float(s), 1, s) for s in range(MAX_BATCH_POINTS)])
    assert len(client.get_metric_history(run_id, "m")) == MAX_BATCH_POINTS


def test_a_batch_of_100001_points_is_refused_before_writing_anything(client, run_id):
    with pytest.raises(InvalidParameter, match="100,001 metric points; the limit is 100,000 per call"):
        client.log_batch(run_id, metrics=[Metric("m", float(s), 1, s) for s in range(MAX_BATCH_POINTS + 1)],
                         params=[Param("p", "1")])
    data = client.get_run(run_id).data
    assert data.metrics == {} and data.params == {}


def test_artifact_paths_at_and_over_the_limit(client, run_id, tmp_path):
    folder = "/".join(["d" * 99] * 5)  # 499 characters
    logical = f"{folder}/{'n' * (MAX_PATH_CHARS - len(folder) - 1)}"
    assert len(logical) == MAX_PATH_CHARS
    client.log_text(run_id, "edge", logical)
    assert client.load_text(run_id, logical) == "edge"
    with pytest.raises(InvalidArtifactPath, match="701 characters long; the limit is 700"):
        client.log_text(run_id, "over", logical + "x")
    with pytest.raises(InvalidArtifactPath, match="segment of 256 bytes"):
        client.log_text(run_id, "over", "n" * (MAX_SEGMENT_BYTES + 1))
