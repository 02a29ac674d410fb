"""Shared pieces of the CLI: opening the store, output formats, error handling, time display."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import sys
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import click

from ..errors import SqltrackError

FORMATS = ("table", "csv", "json")


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn library errors into a one-line message and exit status 1 (never a traceback)."""
    try:
        yield
    except SqltrackError as error:
        message = str(error)
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - a driver error must not print a traceback
        if type(error).__module__.split(".")[0] not in ("sqlalchemy", "sqlite3", "psycopg", "pymysql"):
            raise
        origin = getattr(error, "orig", None) or error
        click.echo(f"Error: the database refused the operation: {origin}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


def open_client(ctx: click.Context, *, read_only: bool = False):
    """The Client for the store named by --store (or the environment)."""
    from ..api.client import Client

    obj = ctx.find_root().obj or {}
    cached = obj.get("client")
    if cached is None:
        cached = obj["client"] = Client(obj.get("store"), artifact_root=obj.get("artifact_root"),
                                        read_only=read_only)
        ctx.call_on_close(cached.close)
    return cached


def format_option(func):
    """``--format table|csv|json`` plus ``--json`` as a shorthand."""
    func = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="Output: a readable table, CSV, or JSON (machine-readable).")(func)


def chosen_format(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> None:
    """Print rows as a table, CSV or JSON."""
    if fmt == "json":
        click.echo(json.dumps([{c: _jsonable(r.get(c)) for c in columns} for r in rows], indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    else:
        click.echo(render_table(rows, columns))


def emit_object(obj: dict[str, Any], fmt: str) -> None:
    """Print one record: JSON, or ``key: value`` sections for people."""
    if fmt == "json":
        click.echo(json.dumps(_jsonable(obj), indent=2))
        return
    for key, value in obj.items():
        if isinstance(value, dict):
            click.secho(f"{key}:", bold=True)
            for sub_key, sub_value in value.items():
                click.echo(f"  {sub_key}: {show(sub_value)}")
        elif isinstance(value, list):
            click.secho(f"{key}:", bold=True)
            for item in value:
                click.echo(f"  {show(item)}")
        else:
            click.echo(f"{click.style(key + ':', bold=True)} {show(value)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def show(value: Any) -> str:
    """A value as a short string for a table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], max_width: int = 40) -> str:
    """A plain aligned text table; long cells are cut with an ellipsis."""
    cells = [[_cut(show(r.get(c)), max_width) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    header = "  ".join(click.style(c.ljust(w), bold=True) for c, w in zip(columns, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    lines = [header, rule] + ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    if not rows:
        lines.append("(none)")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def format_time(ms: int | None) -> str | None:
    """Milliseconds since the epoch as local 'YYYY-MM-DD HH:MM:SS'."""
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start: int | None, end: int | None) -> str | None:
    """A duration like '3.2s', '4m05s', '2h03m'."""
    if start is None or end is None:
        return None
    seconds = max(0, (end - start) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
