"""``sqltrack runs search`` (MLflow's filter language) and ``sqltrack sql`` (read-only SQL on the views)."""

from __future__ import annotations

import difflib
import re
import sys

import click

from ._common import chosen_format, emit, format_duration, format_option, format_time, handle_errors, open_client

#: How many of the most common metrics are shown after the columns the search mentions.
KEY_METRICS = 3
DEFAULT_COLUMNS = ("run_id", "name", "status", "start")

#: Attribute columns: name → value of a run (times formatted for people; *_time in ms).
ATTRIBUTE_COLUMNS = {
    "run_id": lambda run: run.info.run_id,
    "name": lambda run: run.info.run_name,
    "run_name": lambda run: run.info.run_name,
    "experiment_id": lambda run: run.info.experiment_id,
    "status": lambda run: run.info.status,
    "user_id": lambda run: run.info.user_id,
    "start": lambda run: format_time(run.info.start_time),
    "end": lambda run: format_time(run.info.end_time),
    "duration": lambda run: format_duration(run.info.start_time, run.info.end_time),
    "start_time": lambda run: run.info.start_time,
    "end_time": lambda run: run.info.end_time,
    "artifact_uri": lambda run: run.info.artifact_uri,
    "lifecycle_stage": lambda run: run.info.lifecycle_stage,
}
#: Column prefixes as written → canonical prefix.
PREFIXES = {"metrics": "metrics", "metric": "metrics", "params": "params", "param": "params",
            "parameters": "params", "parameter": "params", "tags": "tags", "tag": "tags"}
#: Attributes a filter or order_by may mention → the column that shows them.
_MENTIONED_ATTRIBUTES = {"user_id": "user_id", "end_time": "end", "artifact_uri": "artifact_uri"}
_KIND_PREFIXES = {"metric": "metrics", "param": "params", "tag": "tags"}
_VIEWS = {"active": 1, "deleted": 2, "all": 3}


# -- runs search ----------------------------------------------------------------------------

@click.command("search")
@click.option("--filter", "-f", "filter_string", default="", metavar="FILTER",
              help="MLflow filter, e.g. \"metrics.mse < 0.2 and params.opt = 'adam'\" (docs/grammar.md).")
@click.option("--order-by", "-o", "order_by", multiple=True, metavar="CLAUSE",
              help="Sort clause, e.g. 'metrics.mse ASC' (repeatable; the first one sorts first).")
@click.option("--max-results", "-n", type=int, default=50, show_default=True, help="How many runs to show.")
@click.option("--experiment", "-e", "experiments", multiple=True, metavar="NAME",
              help="Only runs of this experiment (repeatable). Default: all experiments.")
@click.option("--columns", "-c", "columns", multiple=True, metavar="COLS",
              help="Comma-separated columns, e.g. run_id,metrics.mse,params.pca_var (repeatable). Default: "
                   "run_id, name, status, start, the fields the filter and order-by mention, then the most "
                   "common metrics.")
@click.option("--view", type=click.Choice(sorted(_VIEWS)), default="active", show_default=True,
              help="Active runs, deleted runs, or all.")
@format_option
@click.pass_context
def search_runs(ctx: click.Context, filter_string: str, order_by: tuple[str, ...], max_results: int,
                experiments: tuple[str, ...], columns: tuple[str, ...], view: str, fmt: str, as_json: bool) -> None:
    """Search runs with MLflow's filter and order_by language."""
    from .runs import _experiment_ids

    with handle_errors():
        picked = parse_columns(columns) if columns else None
        client = open_client(ctx, read_only=True)
        found = client.search_runs(_experiment_ids(client, experiments), filter_string, _VIEWS[view],
                                   max_results, list(order_by))
        chosen = picked or default_columns(found, filter_string, order_by)
        fmt = chosen_format(fmt, as_json)
        rows = [run_row(run, chosen) for run in found]
        if fmt == "table":
            for row in rows:
                if "run_id" in row:
                    row["run_id"] = row["run_id"][:12]
        emit(rows, chosen, fmt)
        if found.token and fmt == "table":
            click.echo(f"(more than {len(found)} runs match; raise --max-results to see more)", err=True)


def run_row(run, columns: list[str]) -> dict:
    """The values of the chosen columns for one run (None where the run has no value)."""
    row = {}
    for column in columns:
        getter = ATTRIBUTE_COLUMNS.get(column)
        if getter is not None:
            row[column] = getter(run)
            continue
        prefix, key = column.split(".", 1)
        values = {"metrics": run.data.metrics, "params": run.data.params, "tags": run.data.tags}[prefix]
        row[column] = values.get(key)
    return row


def parse_columns(specs: tuple[str, ...]) -> list[str]:
    """``run_id,metrics.mse,params.`a,b``` → canonical column names; unknown names are an error."""
    from ..errors import InvalidParameter

    columns: list[str] = []
    for spec in specs:
        for part in re.findall(r"(?:`[^`]*`|\"[^\"]*\"|[^,])+", spec):
            name = part.strip()
            if not name:
                continue
            if name in ATTRIBUTE_COLUMNS:
                columns.append(name)
                continue
            prefix, dot, key = name.partition(".")
            if dot and prefix in PREFIXES and _unquote(key):
                columns.append(f"{PREFIXES[prefix]}.{_unquote(key)}")
                continue
            close = difflib.get_close_matches(name, list(ATTRIBUTE_COLUMNS), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise InvalidParameter(f"Unknown column {name!r}: {hint}use {', '.join(ATTRIBUTE_COLUMNS)}, or "
                                   "metrics.KEY, params.KEY, tags.KEY.")
    return list(dict.fromkeys(columns))


def _unquote(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"'":
        return key[1:-1]
    return key


def default_columns(found, filter_string: str, order_by: tuple[str, ...]) -> list[str]:
    """run_id, name, status, start, the fields the search mentions, then the most common metrics."""
    columns = list(DEFAULT_COLUMNS) + mentioned_columns(filter_string, order_by)
    counts: dict[str, int] = {}
    for run in found:
        for key in run.data.metrics:
            counts[key] = counts.get(key, 0) + 1
    common = [f"metrics.{key}" for key in sorted(counts, key=lambda k: (-counts[k], k))]
    extra = [column for column in common if column not in columns][:KEY_METRICS]
    return list(dict.fromkeys(columns + extra))


def mentioned_columns(filter_string: str, order_by: tuple[str, ...]) -> list[str]:
    """The columns of the metrics, params, tags and attributes a filter and order_by read, in order."""
    from ..query import ast, parse_filter, parse_order_by

    operands = []
    tree = parse_filter(filter_string or None)
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Compare):
            operands.append(node.left)
            if isinstance(node.right, (ast.Field, ast.Func)):
                operands.append(node.right)
        elif isinstance(node, (ast.InList, ast.IsNull)):
            operands.append(node.operand)
    operands.extend(term.operand for term in parse_order_by(list(order_by)))
    columns = []
    for operand in operands:
        field = ast.operand_field(operand)
        if field.kind in _KIND_PREFIXES:
            columns.append(f"{_KIND_PREFIXES[field.kind]}.{field.key}")
        elif field.kind == "attribute" and field.key in _MENTIONED_ATTRIBUTES:
            columns.append(_MENTIONED_ATTRIBUTES[field.key])
    return list(dict.fromkeys(columns))


# -- sql ------------------------------------------------------------------------------------

@click.command("sql")
@click.argument("query")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Value of :NAME in the query (repeatable). Numbers (3, -0.5) are passed as numbers, "
                   "anything else as text.")
@format_option
@click.pass_context
def sql_command(ctx: click.Context, query: str, params: tuple[str, ...], fmt: str, as_json: bool) -> None:
    """Run one read-only SQL query on the store (QUERY, or - to read it from standard input).

    Query the views experiments_view, runs_view, params_view, tags_view, metrics_view,
    latest_metrics_view and artifacts_view (columns and examples in docs/sql.md). Writes,
    ATTACH and setting changes are refused by the database itself.
    """
    from ..query.sql import run_query

    with handle_errors():
        text = sys.stdin.read() if query == "-" else query
        obj = ctx.find_root().obj or {}
        result = run_query(text, parse_params(params), tracking_uri=obj.get("store"))
        columns = unique_names(result.columns)
        rows = [dict(zip(columns, row, strict=True)) for row in result.rows]
        emit(rows, columns, chosen_format(fmt, as_json))


_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")


def parse_params(pairs: tuple[str, ...]) -> dict:
    """``('n=3', 'name=adam')`` → ``{'n': 3, 'name': 'adam'}``; numbers become int or float."""
    from ..errors import InvalidParameter

    values: dict = {}
    for pair in pairs:
        name, eq, raw = pair.partition("=")
        if not eq or not re.fullmatch(r"\w+", name.strip()):
            raise InvalidParameter(f"--param {pair!r}: write NAME=VALUE, e.g. --param status=FAILED.")
        values[name.strip()] = _param_value(raw)
    return values


def _param_value(raw: str):
    if _INTEGER.fullmatch(raw) and -2**63 <= int(raw) < 2**63:
        return int(raw)
    if _DECIMAL.fullmatch(raw):
        return float(raw)
    return raw


def unique_names(columns: list[str]) -> list[str]:
    """Column names made unique for output: ``a, a, b`` → ``a, a_2, b``."""
    used: set[str] = set()
    out = []
    for name in columns:
        candidate, number = name, 1
        while candidate in used:
            number += 1
            candidate = f"{name}_{number}"
        used.add(candidate)
        out.append(candidate)
    return out


def register(group: click.Group) -> None:
    group.commands["runs"].add_command(search_runs)
    group.add_command(sql_command)
