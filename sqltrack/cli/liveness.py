"""``sqltrack runs mark-dead``, and the stale-run marker of ``sqltrack runs list``.

A run whose process was killed (SIGKILL, out of memory, a lost node) stays RUNNING; when
it has shown no sign of life (no logged value, no heartbeat) for longer than a grace
period it is *stale*: ``runs list`` shows it as ``RUNNING (stale 2h03m)`` and
``runs mark-dead`` ends it as KILLED or FAILED. See :mod:`sqltrack.store.liveness`.
"""

from __future__ import annotations

import re

import click

from ._common import chosen_format, emit, format_option, format_time, open_client

# The same values as sqltrack.store.liveness (not imported here: `sqltrack --help` loads no SQLAlchemy).
DEAD_STATUSES = ("KILLED", "FAILED")
DEFAULT_GRACE_SECONDS = 600.0

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*", re.IGNORECASE)


class Duration(click.ParamType):
    """A duration such as ``90``, ``90s``, ``30m``, ``2h`` or ``1.5d``; the value is seconds."""

    name = "DURATION"

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        match = _DURATION.fullmatch(str(value))
        if not match:
            self.fail(f"{value!r} is not a duration; write e.g. 600, 90s, 30m, 2h or 1d.", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2).lower()]


DURATION = Duration()


def grace_option(name: str, help_text: str):
    return click.option(name, "grace", type=DURATION, default=f"{int(DEFAULT_GRACE_SECONDS)}s", show_default=True,
                        help=help_text)


def idle_text(ms: int) -> str:
    """An idle time like '45s', '12m', '2h03m' or '3d04h'."""
    seconds = max(0, ms // 1000)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def annotate_stale(client, rows: list[dict], columns: list[str], fmt: str, grace_seconds: float) -> None:
    """Mark stale RUNNING runs in ``runs list`` rows (hook called by :mod:`sqltrack.cli.runs`).

    Tables show the status as ``RUNNING (stale 2h03m)``; JSON and CSV keep the status as
    is and get a ``stale`` column (true/false) instead, so scripts can filter on either.
    """
    from ..store.liveness import idle_times

    running = [r["run_id"] for r in rows if r.get("status") == "RUNNING"]
    idle = idle_times(client.store, running)
    limit = grace_seconds * 1000
    if fmt != "table":
        columns.insert(columns.index("status") + 1, "stale")
    for row in rows:
        ms = idle.get(row["run_id"])
        stale = ms is not None and ms > limit
        if fmt == "table":
            if stale:
                row["status"] = f"RUNNING (stale {idle_text(ms)})"
        else:
            row["stale"] = stale


@click.command("mark-dead")
@grace_option("--grace", "End RUNNING runs without a sign of life for longer than this (e.g. 600, 30m, 2h).")
@click.option("--status", type=click.Choice(DEAD_STATUSES), default="KILLED", show_default=True,
              help="The status to give them.")
@click.option("--experiment", "-e", "experiments", multiple=True, metavar="NAME",
              help="Only runs of this experiment (repeatable). Default: all experiments.")
@click.option("--run-id", "run_ids", multiple=True, metavar="RUN_ID", help="Only this run (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only list the runs that would be ended.")
@format_option
@click.pass_context
def mark_dead_command(ctx: click.Context, grace: float, status: str, experiments: tuple[str, ...],
                      run_ids: tuple[str, ...], dry_run: bool, fmt: str, as_json: bool) -> None:
    """End runs left RUNNING by a killed process (no sign of life for longer than --grace).

    A run shows a sign of life whenever it logs anything, and every 30 s while a process
    using the fluent API (start_run) has it active. The end time set is the last sign of life.
    """
    from ..store.liveness import mark_dead
    from .runs import _experiment_ids

    client = open_client(ctx, read_only=dry_run)
    ended = mark_dead(client.store, grace, status=status, experiment_ids=_experiment_ids(client, experiments),
                      run_ids=list(run_ids) or None, dry_run=dry_run)
    fmt = chosen_format(fmt, as_json)
    rows = [{"run_id": r.run_id, "name": r.name, "experiment_id": r.experiment_id,
             "last_sign_of_life": format_time(r.last_activity_time) if fmt == "table" else r.last_activity_time,
             "idle": idle_text(r.idle_ms) if fmt == "table" else r.idle_ms // 1000,
             "status": status} for r in ended]
    if fmt != "table":
        emit(rows, ["run_id", "name", "experiment_id", "last_sign_of_life", "idle", "status"], fmt)
        return
    verb = "Would mark" if dry_run else "Marked"
    click.echo(f"{verb} {len(rows)} stale run(s) {status}.")
    if rows:
        emit(rows, ["run_id", "name", "last_sign_of_life", "idle"], "table")


def register(group: click.Group) -> None:
    # Modules register in name order, so the ``runs`` group may not be on ``group`` yet: extend it directly.
    from .runs import runs

    runs.add_command(mark_dead_command)
