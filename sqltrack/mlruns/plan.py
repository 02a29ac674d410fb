"""Deciding what to do with each run read from a source, and doing it in the store.

Policy (see the module docs of :mod:`sqltrack.mlruns`): a run that is not in the store is
imported; one that is identical is left alone; one whose stored params and metric points
are all still in the source (more points, a new status, changed tags or artifacts) is
brought up to date; anything else is a conflict, left alone unless ``overwrite``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..errors import SqltrackError
from ..store import bulk
from ..store.bulk import RunContent
from .records import RunRecord

IMPORT, UPDATE, UNCHANGED, CONFLICT, REPLACE, FAILED = "import", "update", "unchanged", "conflict", "replace", "failed"


@dataclass
class Decision:
    """What happens to one run, and why."""

    record: RunRecord
    action: str
    reason: str | None = None
    rid: int | None = None
    old: RunContent | None = None


def classify(old: RunContent, new: RunContent) -> tuple[str, str | None]:
    """UNCHANGED, UPDATE, or CONFLICT with the reason."""
    if _same(old, new):
        return UNCHANGED, None
    if old.experiment_id != new.experiment_id:
        return CONFLICT, f"it is in experiment {old.experiment_id} in the store, {new.experiment_id} in the source"
    for key, value in old.params.items():
        if new.params.get(key) != value:
            theirs = "missing" if key not in new.params else repr(new.params[key][:40])
            return CONFLICT, f"param {key!r} is {value[:40]!r} in the store but {theirs} in the source"
    for key, points in old.points.items():
        missing = set(points) - set(new.points.get(key, ()))
        if missing:
            return CONFLICT, f"metric {key!r} has {len(missing)} point(s) in the store that the source lacks"
    return UPDATE, None


def _same(old: RunContent, new: RunContent) -> bool:
    files = lambda c: {p: v[:2] for p, v in c.artifacts.items()}  # noqa: E731 - times may differ after a copy
    return (old.experiment_id == new.experiment_id and old.attrs == new.attrs and old.params == new.params
            and old.tags == new.tags and old.points == new.points and files(old) == files(new))


def plan_group(conn: Connection, records: Sequence[RunRecord], overwrite: bool) -> list[Decision]:
    """Compare a group of records with the store (read-only)."""
    existing = bulk.load_contents(conn, [r.content.run_uuid for r in records])
    decisions = []
    for record in records:
        found = existing.get(record.content.run_uuid)
        if found is None:
            decisions.append(Decision(record, IMPORT))
            continue
        action, reason = classify(found[1], record.content)
        if action == CONFLICT and overwrite:
            action = REPLACE
        decisions.append(Decision(record, action, reason, found[0], found[1]))
    return decisions


def apply_group(store, conn: Connection, decisions: list[Decision]) -> list[Decision]:
    """Write the decisions; a run that fails is rolled back alone (savepoint) and marked FAILED."""
    new = [d for d in decisions if d.action == IMPORT]
    if new and not _try(conn, lambda: bulk.insert_runs(store, conn, [d.record.content for d in new])):
        for decision in new:  # find the culprit: one savepoint per run
            _one(conn, decision, lambda d=decision: bulk.insert_runs(store, conn, [d.record.content]))
    for decision in decisions:
        if decision.action == UPDATE:
            _one(conn, decision, lambda d=decision: bulk.extend_run(store, conn, d.rid, d.old, d.record.content))
        elif decision.action == REPLACE:
            _one(conn, decision, lambda d=decision: bulk.replace_run(store, conn, d.rid, d.record.content))
    return decisions


def _try(conn: Connection, call) -> bool:
    savepoint = conn.begin_nested()
    try:
        call()
    except (SQLAlchemyError, SqltrackError):
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _one(conn: Connection, decision: Decision, call) -> None:
    savepoint = conn.begin_nested()
    try:
        call()
    except (SQLAlchemyError, SqltrackError) as error:
        savepoint.rollback()
        decision.action, decision.reason = FAILED, f"the store refused it: {str(error).splitlines()[0]}"
        return
    savepoint.commit()
