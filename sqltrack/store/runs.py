"""Creating runs, changing their status and lifecycle, and resolving run ids."""

from __future__ import annotations

import time
import uuid
from functools import cache

from sqlalchemy import BigInteger, Connection, Integer, String, bindparam, delete, func, insert, select, update

from ..entities import RUN_STATUSES, LifecycleStage
from ..errors import InvalidParameter, RunNotFound
from . import sqlite_path as SQ
from .experiments import _require as require_experiment
from .experiments import parse_experiment_id
from .keys import key_ids
from .tables import tables
from .validation import validate_key

RUN_NAME_TAG = "mlflow.runName"

# Built once, when first used: statements made per call cost SQLAlchemy a cache-key walk each
# time (every run is created and ended through these on a server).
@cache
def _insert_run_sql():
    return insert(tables.runs)


@cache
def _set_status_sql():
    runs = tables.runs
    return (update(runs).where(runs.c.id == bindparam("rid"), runs.c.run_uuid == bindparam("uuid"))
            .values(status=bindparam("status"), last_activity_time=bindparam("now"),
                    end_time=func.coalesce(bindparam("end", type_=BigInteger()), runs.c.end_time)))


def now_ms() -> int:
    return int(time.time() * 1000)


def run_internal_id(store, conn: Connection, run_id: str) -> int:
    """The integer id of a run from its 32-hex id, or RunNotFound."""
    cached = store.cached_run_id(run_id)
    if cached is not None:
        return cached
    runs = tables.runs
    found = conn.execute(select(runs.c.id).where(runs.c.run_uuid == str(run_id))).scalar()
    if found is None:
        raise RunNotFound(f"No run with id {run_id!r} in the store {store.display_url}; "
                          "'sqltrack runs list' shows the runs there are.")
    store.remember_run_id(run_id, found)
    return found


def live_run_id(store, conn: Connection, run_id: str) -> int:
    """``run_internal_id`` for a read: a cached id is checked against the run's row (id and uuid) in
    the reader's snapshot, so a run purged by ``sqltrack gc`` meanwhile is RunNotFound, not empty."""
    cached = store.cached_run_id(run_id)
    if cached is None:
        return run_internal_id(store, conn, run_id)
    if not SQ.select_rows(conn, _run_row_sql(), {"rid": cached, "uuid": str(run_id)}):
        raise purged_run(run_id)
    return cached


@cache
def _run_row_sql():
    runs = tables.runs
    return select(runs.c.id).where(runs.c.id == bindparam("rid", type_=Integer),
                                   runs.c.run_uuid == bindparam("uuid", type_=String))


def purged_run(run_id: str) -> RunNotFound:
    """The error for a run this process knew that is no longer in the store."""
    return RunNotFound(f"Run {run_id} is no longer in the store (it was deleted and purged by 'sqltrack gc').")


def create_run(store, experiment_id: str | int, *, run_name: str | None, user_id: str | None,
               start_time: int | None, tags_: dict[str, str], run_id: str | None = None,
               status: str = "RUNNING") -> tuple[str, int]:
    """Insert a run with its initial tags; returns (run_id, internal id)."""
    from .batch import write_tags

    eid = parse_experiment_id(experiment_id)
    new_uuid = run_id or uuid.uuid4().hex
    start = now_ms() if start_time is None else int(start_time)
    name = None if run_name is None else run_name[:250]
    renamed = RUN_NAME_TAG in tags_ and tags_[RUN_NAME_TAG][:250] != name  # else the row has the name already

    def unit(conn: Connection) -> int:
        internal = _insert_run(conn, eid, new_uuid, name, user_id, status, start)
        write_tags(store, conn, internal, tags_, rename=renamed)
        return internal

    internal = store.write(unit)
    store.remember_run_id(new_uuid, internal)
    return new_uuid, internal


def _insert_run(conn: Connection, eid: int, new_uuid: str, run_name: str | None, user_id: str | None,
                status: str, start: int) -> int:
    """Insert a run's row into an active experiment; its integer id."""
    if SQ.is_sqlite(conn):  # one statement: the insert finds the experiment active, or inserts nothing
        cursor = SQ.execute(conn, SQ.INSERT_RUN, (new_uuid, run_name, user_id, status, start, f"runs:/{new_uuid}",
                                                  start, eid))
        if cursor.rowcount == 1:
            return cursor.lastrowid
    exp = require_experiment(conn, eid)
    if exp.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameter(f"Experiment {exp.name!r} (id {eid}) is deleted; restore it before logging to it.")
    result = conn.execute(_insert_run_sql(), dict(
        run_uuid=new_uuid, experiment_id=eid, name=run_name, user_id=user_id, status=status,
        start_time=start, end_time=None, lifecycle_stage=LifecycleStage.ACTIVE,
        artifact_uri=f"runs:/{new_uuid}", source_type="LOCAL", last_activity_time=start))
    return result.inserted_primary_key[0]


def update_run(store, run_id: str, *, status: str | None = None, end_time: int | None = None,
               run_name: str | None = None) -> None:
    """Change a run's status, end time and/or name (the name also updates the mlflow.runName tag)."""
    if status is not None and status not in RUN_STATUSES:
        raise InvalidParameter(f"Invalid run status {status!r}; use one of {', '.join(RUN_STATUSES)}.")
    from .batch import write_tags

    def unit(conn: Connection) -> None:
        rid = run_internal_id(store, conn, run_id)
        values = {"last_activity_time": now_ms()}
        if status is not None:
            values["status"] = status
        if end_time is not None:
            values["end_time"] = end_time
        update_row(conn, rid, run_id, **values)
        if run_name is not None:
            write_tags(store, conn, rid, {RUN_NAME_TAG: run_name})

    store.write(unit)


def set_status(conn: Connection, rid: int, run_id: str, status: str, end_time: int | None, now: int) -> None:
    """Set a run's status and end time (kept when None) inside the caller's transaction."""
    if SQ.is_sqlite(conn):
        changed = SQ.execute(conn, SQ.SET_STATUS, (status, now, end_time, rid, run_id)).rowcount
    else:
        changed = conn.execute(_set_status_sql(), {"rid": rid, "uuid": run_id, "status": status, "now": now,
                                                   "end": end_time}).rowcount
    require_updated(changed, run_id)


def update_row(conn: Connection, rid: int, run_id: str, **values) -> None:
    """Update a run's row, matched by id and uuid, or raise RunNotFound (see ``require_updated``)."""
    runs = tables.runs
    require_updated(conn.execute(update(runs).where(runs.c.id == rid, runs.c.run_uuid == run_id)
                                 .values(**values)).rowcount, run_id)


def require_updated(rowcount: int, run_id: str) -> None:
    """RunNotFound when an update of a run's row (by id and uuid) found none.

    A run's id may be cached from before ``sqltrack gc`` purged it (in another process, say):
    nothing may be written for it then. Ids are not handed out again (schema 0004), but the
    uuid is matched too, for stores whose counter can go back (MySQL before 8.0 resets it to
    the highest id on restart).
    """
    if rowcount == 0:
        raise RunNotFound(f"Run {run_id} is no longer in the store (it was deleted and purged by "
                          "'sqltrack gc'); nothing of this write was stored.")


def set_run_lifecycle(store, run_id: str, stage: str) -> None:
    """Soft-delete or restore a run (its data stays until 'sqltrack gc')."""

    def unit(conn: Connection) -> None:
        rid = run_internal_id(store, conn, run_id)
        deleted_time = now_ms() if stage == LifecycleStage.DELETED else None
        update_row(conn, rid, run_id, lifecycle_stage=stage, deleted_time=deleted_time)

    store.write(unit)


def delete_tag(store, run_id: str, key: str) -> None:
    """Remove a tag from a run; a tag that is not there is an error, as in MLflow."""
    validate_key(key, "tag")

    def unit(conn: Connection) -> None:
        rid = run_internal_id(store, conn, run_id)
        update_row(conn, rid, run_id, last_activity_time=now_ms())
        kid = key_ids(store, conn, [key], create=False).get(key)
        removed = 0 if kid is None else conn.execute(
            delete(tables.tags).where(tables.tags.c.run_id == rid, tables.tags.c.key_id == kid)).rowcount
        if not removed:
            raise InvalidParameter(f"Run {run_id!r} has no tag {key!r} to delete.")
        # Deleting mlflow.runName keeps the run's name, as both MLflow stores do.

    store.write(unit)
