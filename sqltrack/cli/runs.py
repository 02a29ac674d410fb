"""``sqltrack runs``: list, show and search runs."""

from __future__ import annotations

import click

from ._common import chosen_format, emit, emit_object, format_duration, format_option, format_time, open_client
from .liveness import annotate_stale, grace_option

KEY_METRICS = 3


def _experiment_ids(client, names: tuple[str, ...]) -> list[str] | None:
    if not names:
        return None
    ids = []
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            from ..errors import ExperimentNotFound

            raise ExperimentNotFound(f"No experiment named {name!r}; 'sqltrack experiments list' shows them.")
        ids.append(experiment.experiment_id)
    return ids


def run_row(run, metric_keys: list[str]) -> dict:
    """The fields of a run shown in listings."""
    info = run.info
    row = {"run_id": info.run_id, "name": info.run_name, "experiment_id": info.experiment_id,
           "status": info.status, "start": format_time(info.start_time),
           "duration": format_duration(info.start_time, info.end_time)}
    row.update({f"metrics.{k}": run.data.metrics.get(k) for k in metric_keys})
    return row


def _key_metrics(found, limit: int = KEY_METRICS) -> list[str]:
    counts: dict[str, int] = {}
    for run in found:
        for key in run.data.metrics:
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:limit]


@click.group("runs")
def runs() -> None:
    """List, show and search runs."""


@runs.command("list")
@click.option("--experiment", "-e", "experiments", multiple=True, metavar="NAME",
              help="Only runs of this experiment (repeatable). Default: all experiments.")
@click.option("--max-results", "-n", type=int, default=50, show_default=True, help="How many runs to show.")
@click.option("--deleted", is_flag=True, help="Show deleted runs instead of active ones.")
@grace_option("--stale-after", "Mark RUNNING runs without a sign of life for longer than this as stale.")
@format_option
@click.pass_context
def list_runs(ctx: click.Context, experiments: tuple[str, ...], max_results: int, deleted: bool, grace: float,
              fmt: str, as_json: bool) -> None:
    """List runs, newest first, with their most common metrics."""
    from ..entities import ACTIVE_ONLY, DELETED_ONLY

    client = open_client(ctx, read_only=True)
    found = client.search_runs(_experiment_ids(client, experiments), "", DELETED_ONLY if deleted else ACTIVE_ONLY,
                               max_results)
    keys = _key_metrics(found)
    columns = ["run_id", "name", "status", "start", "duration"] + [f"metrics.{k}" for k in keys]
    fmt = chosen_format(fmt, as_json)
    rows = [run_row(run, keys) for run in found]
    annotate_stale(client, rows, columns, fmt, grace)
    if fmt == "table":
        for row in rows:
            row["run_id"] = row["run_id"][:12]
    emit(rows, columns, fmt)


@runs.command("show")
@click.argument("run_id")
@format_option
@click.pass_context
def show_run(ctx: click.Context, run_id: str, fmt: str, as_json: bool) -> None:
    """Show a run: its attributes, params, latest metrics, tags and artifacts."""
    client = open_client(ctx, read_only=True)
    run = client.get_run(run_id)
    info = run.info
    artifacts = _artifact_tree(client, run_id)
    emit_object({
        "run_id": info.run_id, "name": info.run_name, "experiment_id": info.experiment_id,
        "status": info.status, "lifecycle_stage": info.lifecycle_stage, "user": info.user_id,
        "start": format_time(info.start_time), "end": format_time(info.end_time),
        "duration": format_duration(info.start_time, info.end_time), "artifact_uri": info.artifact_uri,
        "params": dict(sorted(run.data.params.items())), "metrics": dict(sorted(run.data.metrics.items())),
        "tags": dict(sorted(run.data.tags.items())), "artifacts": artifacts,
    }, chosen_format(fmt, as_json))


def _artifact_tree(client, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            out.extend(_artifact_tree(client, run_id, entry.path))
        else:
            out.append(f"{entry.path} ({entry.file_size:,} bytes)")
    return out


def register(group: click.Group) -> None:
    group.add_command(runs)
