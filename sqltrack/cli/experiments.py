"""``sqltrack experiments``: list experiments."""

from __future__ import annotations

import click

from ._common import chosen_format, emit, format_option, format_time, open_client


@click.group("experiments")
def experiments() -> None:
    """List and inspect experiments."""


@experiments.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include deleted experiments.")
@format_option
@click.pass_context
def list_experiments(ctx: click.Context, show_all: bool, fmt: str, as_json: bool) -> None:
    """List experiments with their number of runs."""
    from sqlalchemy import func, select

    from ..entities import ACTIVE_ONLY, ALL
    from ..store.experiments import list_experiments as list_all
    from ..store.schema import runs

    client = open_client(ctx, read_only=True)
    found = list_all(client.store, ALL if show_all else ACTIVE_ONLY)
    counts = dict(client.store.read(lambda conn: conn.execute(
        select(runs.c.experiment_id, func.count()).where(runs.c.lifecycle_stage == "active")
        .group_by(runs.c.experiment_id)).all()))
    rows = [{"experiment_id": e.experiment_id, "name": e.name, "runs": counts.get(int(e.experiment_id), 0),
             "lifecycle_stage": e.lifecycle_stage, "created": format_time(e.creation_time)} for e in found]
    columns = ["experiment_id", "name", "runs", "created"] + (["lifecycle_stage"] if show_all else [])
    emit(rows, columns, chosen_format(fmt, as_json))


def register(group: click.Group) -> None:
    group.add_command(experiments)
