"""Bad input: clear messages naming the file (and line); bad runs skipped, or --strict stops first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sqltrack
from sqltrack.errors import ImportFailure

RUN = "41e1628508fc4a2f83651ceceede6d8a"


def _run_dir(tree: Path) -> Path:
    return tree / "1" / RUN


def _only_failure(summary) -> str:
    assert summary.runs_failed == 1 and summary.runs_imported == 4, summary.render()
    (failure,) = summary.failures
    return failure.message


def test_empty_run_meta(seed_copy, client):
    (_run_dir(seed_copy) / "meta.yaml").write_text("")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert f"{RUN}/meta.yaml" in message and "empty" in message


def test_malformed_run_meta_names_the_line(seed_copy, client):
    meta = _run_dir(seed_copy) / "meta.yaml"
    meta.write_text(meta.read_text().replace("status: 3", "status: [3"))
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "meta.yaml, line" in message and "not valid YAML" in message


def test_bad_metric_line_names_file_and_line(seed_copy, client):
    (_run_dir(seed_copy) / "metrics" / "MSE").write_text("1632497206259 57.8 0\n1632497206260 oops 1\n")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "metrics/MSE, line 2" in message and "timestamp value [step]" in message
    assert client.search_runs(["1"], max_results=None) and RUN not in {
        r.info.run_id for r in client.search_runs(["1"], max_results=None)}


@pytest.mark.parametrize("line", ["1 2 3 4", "x 1.0 0", "1", "-5 1.0 0"])
def test_metric_lines_that_are_not_timestamp_value_step(seed_copy, client, line):
    (_run_dir(seed_copy) / "metrics" / "MSE").write_text(line + "\n")
    assert "metrics/MSE, line 1" in _only_failure(sqltrack.import_mlruns(seed_copy, client))


def test_legacy_two_field_lines_and_non_finite_values(seed_copy, client):
    (_run_dir(seed_copy) / "metrics" / "MSE").write_text("5 nan\r\n6 inf 1\n7 -inf 2\n8 1.5 3 ds digest\n")
    summary = sqltrack.import_mlruns(seed_copy, client)
    assert summary.runs_failed == 0
    history = [(m.timestamp, m.value, m.step) for m in client.get_metric_history(RUN, "MSE")]
    assert [h[0] for h in history] == [5, 6, 7, 8] and history[0][1] != history[0][1]
    assert [h[1:] for h in history[1:]] == [(float("inf"), 1), (float("-inf"), 2), (1.5, 3)]


def test_key_with_illegal_characters(seed_copy, client):
    (_run_dir(seed_copy) / "params" / "bad?key").write_text("1")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "params/bad?key" in message and "'?'" in message


def test_run_meta_naming_another_experiment(seed_copy, client):
    meta = _run_dir(seed_copy) / "meta.yaml"
    meta.write_text(meta.read_text().replace("experiment_id: '1'", "experiment_id: '7'"))
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "meta.yaml, line 4" in message and "another experiment" in message


def test_symlink_out_of_the_tree_is_refused(seed_copy, client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not import me")
    os.symlink(secret, _run_dir(seed_copy) / "tags" / "evil")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "tags/evil" in message and "outside the tree" in message


def test_artifact_symlink_out_of_the_tree_is_refused(seed_copy, client, tmp_path):
    os.symlink(tmp_path, _run_dir(seed_copy) / "artifacts" / "escape")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "artifacts/escape" in message and "outside the tree" in message


def test_symlink_inside_the_tree_is_followed(seed_copy, client):
    other = seed_copy / "1" / "77c97ff7b2fe46d9becba4c230dd3193" / "artifacts" / "toy_model.pkl"
    os.symlink(other, _run_dir(seed_copy) / "artifacts" / "shared.pkl")
    summary = sqltrack.import_mlruns(seed_copy, client)
    assert summary.runs_failed == 0 and summary.artifacts_deduplicated == 1
    assert {a.path for a in client.list_artifacts(RUN)} == {"toy_model.pkl", "shared.pkl"}


def test_artifact_uri_outside_the_tree_is_not_read_unless_allowed(seed_copy, client, tmp_path):
    outside = tmp_path / "elsewhere" / "artifacts"
    outside.mkdir(parents=True)
    (outside / "x.txt").write_text("outside")
    run = _run_dir(seed_copy)
    (run / "artifacts" / "toy_model.pkl").unlink()
    (run / "artifacts").rmdir()
    meta = run / "meta.yaml"
    text = meta.read_text()
    meta.write_text("\n".join(f"artifact_uri: {outside.as_uri()}" if line.startswith("artifact_uri") else line
                              for line in text.splitlines()) + "\n")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "outside the tree" in message and "--allow-external-artifacts" in message
    summary = sqltrack.import_mlruns(seed_copy, client, allow_external_artifacts=True)
    assert summary.runs_imported == 1 and [a.path for a in client.list_artifacts(RUN)] == ["x.txt"]


@pytest.mark.parametrize("text, expected", [
    ("a: &x [1, 2]\nb: *x\n", "anchors and aliases"),
    ("run_id: !!python/object/apply:os.system ['echo hi']\n", "tag"),
    ("a: " + "[" * 40 + "]" * 40 + "\n", "nested"),
])
def test_unsafe_yaml_is_refused(seed_copy, client, text, expected):
    (_run_dir(seed_copy) / "meta.yaml").write_text(text)
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert expected in message and "meta.yaml, line" in message


def test_billion_laughs_is_refused_before_expanding(seed_copy, client):
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    (_run_dir(seed_copy) / "meta.yaml").write_text("\n".join(lines) + "\n")
    assert "anchors and aliases" in _only_failure(sqltrack.import_mlruns(seed_copy, client))


def test_huge_meta_yaml_is_refused(seed_copy, client):
    (_run_dir(seed_copy) / "meta.yaml").write_text("name: " + "x" * (2 << 20) + "\n")
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "meta.yaml" in message and "limit" in message


def test_sparse_multi_gigabyte_metric_file_is_refused(seed_copy, client):
    metric = _run_dir(seed_copy) / "metrics" / "MSE"
    with open(metric, "r+b") as f:
        f.truncate(3 << 30)  # 3 GiB claimed, nothing allocated
    message = _only_failure(sqltrack.import_mlruns(seed_copy, client))
    assert "metrics/MSE" in message and "bytes" in message


def test_strict_stops_before_writing_anything(seed_copy, client):
    (_run_dir(seed_copy) / "metrics" / "MSE").write_text("garbage\n")
    with pytest.raises(ImportFailure, match="metrics/MSE, line 1") as caught:
        sqltrack.import_mlruns(seed_copy, client, strict=True)
    assert "nothing was imported" in str(caught.value)
    assert client.search_runs(["0", "1"], max_results=None) == []
    assert client.get_experiment_by_name("mlflow_tutorial") is None


def test_empty_experiment_meta_skips_that_experiment_only(seed_copy, client):
    (seed_copy / "1" / "meta.yaml").write_text("")
    summary = sqltrack.import_mlruns(seed_copy, client)
    assert summary.experiments_failed == 1 and summary.runs_imported == 1
    assert any("1/meta.yaml" in p.message and "empty" in p.message for p in summary.failures)


def test_folder_without_meta_is_not_a_run(seed_copy, client):
    (seed_copy / "1" / "not-a-run" / "artifacts").mkdir(parents=True)
    summary = sqltrack.import_mlruns(seed_copy, client)
    assert (summary.runs_imported, summary.runs_failed, summary.problems) == (5, 0, [])


def test_missing_tree(tmp_path, client):
    with pytest.raises(ImportFailure, match="no such folder"):
        sqltrack.import_mlruns(tmp_path / "nope", client)
