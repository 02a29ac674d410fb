"""``sqltrack gc``: permanently remove deleted runs and unreferenced artifact blobs."""

from __future__ import annotations

import click

from ._common import chosen_format, emit_object, format_option, open_client


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@click.command("gc")
@click.option("--older-than", type=float, default=0.0, metavar="DAYS", show_default=True,
              help="Only remove runs deleted at least this many days ago.")
@click.option("--blob-grace", type=float, default=3600.0, metavar="SECONDS", show_default=True,
              help="Keep unreferenced blobs younger than this (a writer may be about to index them).")
@click.option("--dry-run", is_flag=True, help="Show what would be removed, remove nothing.")
@format_option
@click.pass_context
def gc(ctx: click.Context, older_than: float, blob_grace: float, dry_run: bool, fmt: str, as_json: bool) -> None:
    """Permanently remove deleted runs and experiments, orphan blobs and leftover temp files."""
    from ..store.gc import collect

    client = open_client(ctx)
    report = collect(client.store, older_than_ms=int(older_than * 86_400_000), dry_run=dry_run,
                     blob_grace_seconds=blob_grace)
    fmt = chosen_format(fmt, as_json)
    result = {"dry_run": dry_run, "runs": report.runs, "experiments": report.experiments,
              "metric_points": report.metric_points, "blobs": report.blobs, "blob_bytes": report.blob_bytes,
              "temp_files": report.temp_files}
    if fmt == "json":
        emit_object({**result, "run_ids": report.run_ids}, "json")
        return
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {report.runs} deleted run(s) ({report.metric_points:,} metric points), "
               f"{report.experiments} deleted experiment(s), {report.blobs} unreferenced blob(s) "
               f"({_human_bytes(report.blob_bytes)}), {report.temp_files} leftover temp file(s).")


def register(group: click.Group) -> None:
    group.add_command(gc)
