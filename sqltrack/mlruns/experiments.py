"""Bringing the source's experiments into the store before their runs."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from sqlalchemy import Connection

from ..store import bulk
from ..store.bulk import ExperimentContent
from .records import ExperimentRecord
from .summary import ImportSummary
from .tree import Problem


def sync_experiments(store, records: Sequence[ExperimentRecord], summary: ImportSummary, *,
                     dry_run: bool) -> set[int]:
    """Create or update the experiments (one transaction); returns the ids whose runs may be imported.

    An experiment whose id or name belongs to a different experiment in the store is left
    alone with its runs (``overwrite`` never renames an experiment: it could be unrelated).
    """

    def unit(conn: Connection) -> tuple[set[int], list[tuple[str, ExperimentRecord, str | None]]]:
        existing = bulk.load_experiments(conn)
        names = {e.name: e.experiment_id for e in existing.values()}
        ok, outcomes = set(), []
        for record in records:
            outcome, reason, merged = _decide(record.content, existing, names)
            outcomes.append((outcome, record, reason))
            if outcome in ("failed", "conflict"):
                continue
            ok.add(record.content.experiment_id)
            if outcome != "unchanged" and not dry_run:
                merged.artifact_location = merged.artifact_location or str(store.artifact_root)
                bulk.write_experiment(conn, merged, exists=outcome == "updated")
        return ok, outcomes

    ok, outcomes = store.read(unit) if dry_run else store.write(unit)
    for outcome, record, reason in outcomes:
        _count(summary, outcome, record, reason)
    return ok


def _decide(new: ExperimentContent, existing: dict[int, ExperimentContent],
            names: dict[str, int]) -> tuple[str, str | None, ExperimentContent]:
    old = existing.get(new.experiment_id)
    holder = names.get(new.name)
    if holder is not None and holder != new.experiment_id:
        return "failed", (f"its name {new.name!r} belongs to experiment {holder} in the store; rename one of "
                          "them (sqltrack experiments rename) and import again"), new
    if old is None:
        return "imported", None, new
    if old.name != new.name:  # never renamed by an import, even with overwrite: it may be another experiment
        return "conflict", (f"experiment id {new.experiment_id} is named {old.name!r} in the store but "
                            f"{new.name!r} in the source; if they are the same experiment, rename it in the store "
                            f"('sqltrack experiments rename') and import again, else import into another store"), new
    merged = replace(new, creation_time=_keep(new.creation_time, old.creation_time),
                     last_update_time=_keep(new.last_update_time, old.last_update_time),
                     artifact_location=old.artifact_location)
    same = (merged.name, merged.lifecycle_stage, merged.creation_time, merged.last_update_time, merged.tags) == (
        old.name, old.lifecycle_stage, old.creation_time, old.last_update_time, old.tags)
    return ("unchanged" if same else "updated"), None, merged


def _keep(value: int | None, fallback: int | None) -> int | None:
    return fallback if value is None else value


def _count(summary: ImportSummary, outcome: str, record: ExperimentRecord, reason: str | None) -> None:
    eid = record.content.experiment_id
    if outcome == "imported":
        summary.experiments_imported += 1
    elif outcome == "updated":
        summary.experiments_updated += 1
    elif outcome == "unchanged":
        summary.experiments_unchanged += 1
    else:
        summary.experiments_failed += 1
        summary.problems.append(Problem(outcome, record.where, f"experiment {eid} ({record.content.name!r}) and "
                                                              f"its runs were not imported: {reason}."))
    for warning in record.warnings:
        summary.problems.append(Problem("warning", record.where, warning))
