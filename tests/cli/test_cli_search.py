"""``sqltrack runs search`` and ``sqltrack sql``: output formats, columns, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import pytest
from click.testing import CliRunner

from sqltrack import Client
from sqltrack.cli import cli
from sqltrack.errors import FilterSyntaxError
from sqltrack.query import parse_filter


@pytest.fixture
def sweep(store_path):
    """Experiment 'sweep' with runs r0..r4 (mse 0.5, 0.25, NaN, 0.1, 0.3; pca_var; opt) and 'other' with one run."""
    client = Client(store_path)
    sweep_id = client.create_experiment("sweep")
    other_id = client.create_experiment("other")
    ids = {}
    for index, mse in enumerate([0.5, 0.25, math.nan, 0.1, 0.3]):
        run = client.create_run(sweep_id, start_time=1000 * (index + 1), run_name=f"r{index}",
                                tags={"mlflow.user": "alice"})
        run_id = ids[f"r{index}"] = run.info.run_id
        client.log_metric(run_id, "mse", mse, timestamp=1, step=0)
        client.log_metric(run_id, "r2", 1 - index / 10, timestamp=1, step=0)
        if index % 2 == 0:
            client.log_metric(run_id, "val loss", index / 4, timestamp=1, step=0)
        client.log_param(run_id, "pca_var", str(0.8 + index / 100))
        client.log_param(run_id, "opt", "adam" if index % 2 else "sgd")
        client.set_tag(run_id, "team", "vision" if index < 3 else "nlp")
        client.set_terminated(run_id, "FAILED" if index == 4 else "FINISHED", end_time=1000 * (index + 1) + 10)
    run = client.create_run(other_id, start_time=99_000, run_name="o0")
    ids["o0"] = run.info.run_id
    client.log_metric(run.info.run_id, "mse", 0.01, timestamp=1, step=0)
    client.close()
    return store_path, ids


def _run(store, *args, input=None):
    return CliRunner().invoke(cli, ["--store", str(store), *args], input=input, catch_exceptions=False)


def _json(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- runs search ----------------------------------------------------------------------------

def test_search_filters_and_orders_like_search_runs(sweep):
    store, ids = sweep
    rows = _json(_run(store, "runs", "search", "--filter", "metrics.mse < 0.4", "--order-by", "metrics.mse",
                      "--json"))
    assert [r["name"] for r in rows] == ["o0", "r3", "r1", "r4"]
    assert rows[1]["run_id"] == ids["r3"] and rows[1]["metrics.mse"] == 0.1


def test_repeatable_order_by_max_results_and_experiment(sweep):
    store, _ = sweep
    rows = _json(_run(store, "runs", "search", "-e", "sweep", "-o", "params.opt DESC", "-o", "metrics.r2",
                      "-n", "3", "--format", "json"))
    assert [r["name"] for r in rows] == ["r4", "r2", "r0"]
    both = _json(_run(store, "runs", "search", "-e", "sweep", "-e", "other", "--json"))
    assert len(both) == 6 and both[0]["name"] == "o0"


def test_default_columns_show_what_the_search_mentions_then_common_metrics(sweep):
    store, _ = sweep
    result = _run(store, "runs", "search", "--filter", "params.pca_var != '0.9' and tags.team = 'vision'",
                  "--order-by", "metrics.`val loss` DESC", "--format", "csv")
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert header == ["run_id", "name", "status", "start", "params.pca_var", "tags.team", "metrics.val loss",
                      "metrics.mse", "metrics.r2"]


def test_columns_option_picks_and_orders_columns(sweep):
    store, ids = sweep
    rows = _json(_run(store, "runs", "search", "-e", "sweep", "--columns", "run_id,metrics.mse,params.pca_var",
                      "--columns", "user_id,end_time,tags.`team`", "--json", "-o", "start_time"))
    assert list(rows[0]) == ["run_id", "metrics.mse", "params.pca_var", "user_id", "end_time", "tags.team"]
    assert rows[0] == {"run_id": ids["r0"], "metrics.mse": 0.5, "params.pca_var": "0.8", "user_id": "alice",
                       "end_time": 1010, "tags.team": "vision"}
    assert rows[2]["metrics.mse"] == "nan"  # JSON has no NaN


def test_table_output_is_readable(sweep):
    store, ids = sweep
    result = _run(store, "runs", "search", "-e", "sweep", "-f", "status = 'FAILED'")
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["run_id", "name", "status", "start"]
    assert lines[2].startswith(ids["r4"][:12]) and "FAILED" in lines[2]
    more = _run(store, "runs", "search", "-n", "2")
    assert "raise --max-results" in more.stderr


def test_deleted_view(sweep):
    store, ids = sweep
    client = Client(store)
    client.delete_run(ids["r1"])
    client.close()
    assert [r["name"] for r in _json(_run(store, "runs", "search", "--view", "deleted", "--json"))] == ["r1"]
    assert len(_json(_run(store, "runs", "search", "--view", "all", "--json"))) == 6
    assert len(_json(_run(store, "runs", "search", "--json"))) == 5


def test_a_syntax_error_prints_the_caret_message_and_fails(sweep):
    store, _ = sweep
    bad = "metrics.mse >< 0.2"
    result = _run(store, "runs", "search", "--filter", bad)
    assert result.exit_code == 1 and result.stdout == ""
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(bad)
    assert result.stderr == f"Error: {caught.value}\n"
    assert "^" in result.stderr.splitlines()[-1]


def test_errors_in_a_real_process_have_no_traceback(sweep):
    store, _ = sweep
    proc = subprocess.run([sys.executable, "-m", "sqltrack", "--store", str(store), "runs", "search",
                           "--order-by", "metrics.mse DESC DESC"], capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
    assert proc.stderr.rstrip().endswith("^")
    proc = subprocess.run([sys.executable, "-m", "sqltrack", "--store", str(store), "sql", "DROP VIEW runs_view"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--columns", "runid"], "did you mean run_id?"),
    (["--columns", "metrics."], "Unknown column"),
    (["-e", "nope"], "No experiment named 'nope'"),
    (["-n", "0"], "max_results"),
])
def test_bad_options_are_one_line_errors(sweep, args, message):
    store, _ = sweep
    result = _run(store, "runs", "search", *args)
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1


# ---- sql ------------------------------------------------------------------------------------

def test_sql_json_with_params(sweep):
    store, ids = sweep
    rows = _json(_run(store, "sql", "SELECT run_name, status, start_time FROM runs_view "
                      "WHERE start_time >= :t AND status = :s ORDER BY start_time", "--param", "t=2000",
                      "-p", "s=FINISHED", "--json"))
    assert rows == [{"run_name": f"r{i}", "status": "FINISHED", "start_time": 1000 * (i + 1)} for i in (1, 2, 3)]


def test_sql_params_become_numbers_only_when_they_look_like_numbers(sweep):
    store, ids = sweep
    rows = _json(_run(store, "sql", "SELECT :a AS a, :b AS b, :c AS c, :d AS d, :e AS e", "-p", "a=3", "-p",
                      "b=-0.5", "-p", "c=adam", "-p", "d=1e-3", "-p", "e=", "--json"))
    assert rows == [{"a": 3, "b": -0.5, "c": "adam", "d": "1e-3", "e": ""}]
    # a run id made only of digits is too long for a 64-bit integer: it stays text
    rows = _json(_run(store, "sql", "SELECT typeof(:r) AS t", "-p", "r=" + "9" * 32, "--json"))
    assert rows == [{"t": "text"}]


def test_sql_csv_table_and_stdin(sweep):
    store, _ = sweep
    result = _run(store, "sql", "SELECT key, COUNT(*) AS n FROM latest_metrics_view GROUP BY key ORDER BY key",
                  "--format", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [["key", "n"], ["mse", "6"], ["r2", "5"],
                                                            ["val loss", "3"]]
    table = _run(store, "sql", "SELECT run_name, 1 AS x, 2 AS x FROM runs_view WHERE run_name = 'r0'")
    assert table.stdout.split() == ["run_name", "x", "x_2", "--------", "-", "---", "r0", "1", "2"]
    piped = _run(store, "sql", "-", "--json", input="SELECT COUNT(*) AS n FROM runs_view")
    assert _json(piped) == [{"n": 6}]


def test_sql_nan_is_null_with_is_nan(sweep):
    store, ids = sweep
    rows = _json(_run(store, "sql", "SELECT value, is_nan FROM latest_metrics_view WHERE run_id = :r AND key = 'mse'",
                      "-p", f"r={ids['r2']}", "--json"))
    assert rows == [{"value": None, "is_nan": 1}]


@pytest.mark.parametrize("statement", ["DELETE FROM runs", "ATTACH DATABASE 'x.db' AS x", "PRAGMA query_only = 0",
                                       "SELECT load_extension('x')"])
def test_sql_refusals_are_one_line_errors(sweep, statement):
    store, _ = sweep
    result = _run(store, "sql", statement)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: The database refused the statement (not authorized")
    assert "read-only" in result.stderr and len(result.stderr.splitlines()) == 1
    assert len(_json(_run(store, "sql", "SELECT * FROM runs_view", "--json"))) == 6


@pytest.mark.parametrize(("args", "message"), [
    (["SELECT * FROM nope"], "no such table: nope"),
    (["SELECT :x"], "binding parameter :x"),
    (["SELECT 1", "--param", "novalue"], "write NAME=VALUE"),
])
def test_sql_bad_queries_are_one_line_errors(sweep, args, message):
    store, _ = sweep
    result = _run(store, "sql", *args)
    assert result.exit_code == 1 and message in result.stderr and len(result.stderr.splitlines()) == 1


def test_sql_on_a_missing_store_does_not_create_it(tmp_path):
    result = _run(tmp_path / "missing.db", "sql", "SELECT 1")
    assert result.exit_code == 1 and "No store at" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_help_lists_the_new_commands():
    assert "sql" in CliRunner().invoke(cli, ["--help"]).output
    runs_help = CliRunner().invoke(cli, ["runs", "--help"]).output
    assert "search" in runs_help
    search_help = CliRunner().invoke(cli, ["runs", "search", "--help"]).output
    for option in ("--filter", "--order-by", "--max-results", "--experiment", "--columns", "--format"):
        assert option in search_help
