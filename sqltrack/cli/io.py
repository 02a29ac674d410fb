"""``sqltrack import mlruns|mlflow-db`` and ``sqltrack export mlruns``: MLflow data in and out."""

from __future__ import annotations

import json
import sys
from typing import Callable

import click

from ._common import handle_errors, open_client


def register(group: click.Group) -> None:
    """Add the ``import`` and ``export`` command groups."""
    group.add_command(import_group)
    group.add_command(export_group)


@click.group("import")
def import_group() -> None:
    """Import MLflow data: an mlruns folder or an MLflow tracking database."""


@click.group("export")
def export_group() -> None:
    """Export the store as MLflow data."""


def _common_import_options(func):
    options = [
        click.option("--store", "store", metavar="PATH|URL", help="The store to import into (default: the "
                     "global --store, $SQLTRACK_TRACKING_URI or ./sqltrack.db)."),
        click.option("--experiment", "-e", "experiments", multiple=True, metavar="NAME|ID",
                     help="Import only this experiment (repeatable)."),
        click.option("--dry-run", is_flag=True, help="Read and check everything, report, write nothing."),
        click.option("--strict", is_flag=True, help="Stop before writing anything if any run is bad."),
        click.option("--overwrite", is_flag=True, help="Replace stored runs whose content conflicts."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@import_group.command("mlruns")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@_common_import_options
@click.option("--allow-external-artifacts", is_flag=True,
              help="Also read artifact folders that runs name outside the tree.")
@click.pass_context
def import_mlruns_command(ctx: click.Context, path: str, store: str | None, experiments: tuple[str, ...],
                          dry_run: bool, strict: bool, overwrite: bool, as_json: bool,
                          allow_external_artifacts: bool) -> None:
    """Import an MLflow mlruns folder (any MLflow version), keeping ids, times and histories.

    Importing again brings only new or changed runs. Exit status 1 if any run failed.
    """
    from ..mlruns import import_mlruns

    with handle_errors(), _progress("import") as progress:
        summary = import_mlruns(path, _client(ctx, store), experiments=experiments or None, dry_run=dry_run,
                                strict=strict, overwrite=overwrite, allow_external_artifacts=allow_external_artifacts,
                                progress=progress)
    _report(summary, as_json, failed=summary.runs_failed + summary.experiments_failed)


@import_group.command("mlflow-db")
@click.argument("url")
@_common_import_options
@click.pass_context
def import_mlflow_db_command(ctx: click.Context, url: str, store: str | None, experiments: tuple[str, ...],
                             dry_run: bool, strict: bool, overwrite: bool, as_json: bool) -> None:
    """Import an MLflow tracking database (sqlite:///mlflow.db or any SQLAlchemy URL).

    Artifacts come from each run's artifact location when it is a local folder.
    Exit status 1 if any run failed.
    """
    from ..mlruns import import_mlflow_db

    with handle_errors(), _progress("import") as progress:
        summary = import_mlflow_db(url, _client(ctx, store), experiments=experiments or None, dry_run=dry_run,
                                   strict=strict, overwrite=overwrite, progress=progress)
    _report(summary, as_json, failed=summary.runs_failed + summary.experiments_failed)


@export_group.command("mlruns")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--store", "store", metavar="PATH|URL", help="The store to export from (default: the global one).")
@click.option("--experiment", "-e", "experiments", multiple=True, metavar="NAME|ID",
              help="Export only this experiment (repeatable).")
@click.option("--filter", "filter_string", metavar="FILTER",
              help="Export only runs matching this search filter, e.g. \"metrics.acc > 0.9\".")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def export_mlruns_command(ctx: click.Context, out: str, store: str | None, experiments: tuple[str, ...],
                          filter_string: str | None, as_json: bool) -> None:
    """Write the store as an mlruns folder that MLflow (1.x to 3.x) reads.

    MLflow 3.13+ needs MLFLOW_ALLOW_FILE_STORE=true to open it. Exit status 1 if any run failed.
    """
    from ..mlruns import export_mlruns

    with handle_errors(), _progress("export") as progress:
        summary = export_mlruns(out, _client(ctx, store, read_only=True), experiments=experiments or None,
                                filter_string=filter_string, progress=progress)
    _report(summary, as_json, failed=summary.runs_failed)


def _client(ctx: click.Context, store: str | None, read_only: bool = False):
    if store:
        ctx.find_root().obj["store"] = store
    return open_client(ctx, read_only=read_only)


class _progress:
    """A tqdm bar on stderr (runs done, runs/s, time left), fed by the library's progress callback."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar = None

    def __enter__(self) -> Callable[[int, int], None]:
        return self.update

    def update(self, done: int, total: int) -> None:
        """The progress callback: move the bar to ``done`` of ``total`` runs."""
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run", desc=self.what, file=sys.stderr, dynamic_ncols=True,
                            disable=None)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


def _report(summary, as_json: bool, failed: int) -> None:
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        click.echo(summary.render())
    if failed:
        sys.exit(1)
