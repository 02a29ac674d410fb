"""``sqltrack copy SOURCE TARGET``: copy a whole store to another database (and artifact root)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from ._common import handle_errors


@click.command("copy")
@click.argument("source", metavar="SOURCE")
@click.argument("target", metavar="TARGET")
@click.option("--source-artifact-root", metavar="DIR|URL",
              help="Where SOURCE's blobs are (default: as for --artifact-root, beside a SQLite file).")
@click.option("--target-artifact-root", metavar="DIR|URL",
              help="Where TARGET's blobs go: a folder, a shared mount or an fsspec URL such as s3://bucket/prefix "
                   "(default: $SQLTRACK_ARTIFACT_ROOT, else beside a SQLite file, else ./sqltrack-artifacts).")
@click.option("--blobs/--no-blobs", "copy_blobs", default=True, show_default=True,
              help="Also copy the artifact blobs (skipped when both stores use one artifact root).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def copy(source: str, target: str, source_artifact_root: str | None, target_artifact_root: str | None,
         copy_blobs: bool, quiet: bool, as_json: bool) -> None:
    """Copy the store SOURCE into TARGET: experiments, runs, metric histories, artifact index and blobs.

    SOURCE and TARGET are SQLite files or SQLAlchemy URLs (postgresql+psycopg://…, mysql+pymysql://…):
    this is how a laptop store moves to a team server, and back. Ids are kept; copying again copies only
    what is new. At the end both stores are counted and checksummed table by table; exit status 1 if
    anything differs.
    """
    from ..config import resolve
    from ..store import Store
    from ..store.copy import CopyMismatch, copy_store, count_runs, verification_steps

    with handle_errors():
        src_location = resolve(source, source_artifact_root)
        dst_location = resolve(target, target_artifact_root)
        src = Store(src_location.url, src_location.artifact_root)
        try:
            dst = Store(dst_location.url, dst_location.artifact_root)
            try:
                totals = {"runs": count_runs(src), "checks": verification_steps()}
                with _bars(totals, quiet or as_json) as progress:
                    try:
                        report = copy_store(src, dst, copy_blobs=copy_blobs, progress=progress)
                    except CopyMismatch as error:
                        _print(error.report, as_json)  # type: ignore[attr-defined]
                        raise
            finally:
                dst.close()
        finally:
            src.close()
    _print(report, as_json)


@contextmanager
def _bars(totals: dict[str, int], hidden: bool) -> Iterator:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(phase: str, amount: int) -> None:
        if phase not in bars:
            desc = "verifying tables" if phase == "checks" else f"copying {phase}"
            bars[phase] = tqdm(total=totals.get(phase), unit=phase[:-1], desc=desc, disable=hidden,
                               file=sys.stderr, leave=False)
        bars[phase].update(amount)

    try:
        yield progress
    finally:
        for bar in bars.values():
            bar.close()


def _print(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({
            "source": report.source, "target": report.target, "verified": report.verified,
            "experiments": report.experiments, "runs_new": report.runs_new, "runs_updated": report.runs_updated,
            "metric_points": report.metric_points, "blobs_copied": report.blobs_copied,
            "blob_bytes": report.blob_bytes, "blobs_skipped": report.blobs_skipped,
            "tables": {name: {"source": report.counts[name][0], "target": report.counts[name][1],
                              "checksum_source": report.checksums[name][0],
                              "checksum_target": report.checksums[name][1]} for name in report.counts},
        }, indent=2))
        return
    click.echo(f"Copied {report.source} to {report.target}: {report.experiments} experiment(s), "
               f"{report.runs_new} new and {report.runs_updated} updated run(s), {report.metric_points:,} metric "
               f"points sent, {report.blobs_copied} blob(s) ({report.blob_bytes:,} bytes)"
               + (f"; blobs not copied: {report.blobs_skipped}" if report.blobs_skipped else "") + ".")
    for name, (ours, theirs) in report.counts.items():
        same = ours == theirs and report.checksums[name][0] == report.checksums[name][1]
        click.echo(f"  {name:<16} {ours:>12,} {theirs:>12,}  {'same' if same else 'DIFFERENT'}")
    if report.verified:
        click.echo("Verified: every table has the same rows and checksum in both stores.")


def register(group: click.Group) -> None:
    group.add_command(copy)
