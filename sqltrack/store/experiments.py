"""Creating, finding, renaming, deleting and restoring experiments."""

from __future__ import annotations

import time
from functools import cache
from typing import Sequence

from sqlalchemy import Connection, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..entities import Experiment, LifecycleStage
from ..errors import ExperimentAlreadyExists, ExperimentNotFound, InvalidParameter, StoreError
from .dialect import upsert_rows
from .tables import tables
from .validation import validate_key, validate_tag_value

MAX_EXPERIMENT_NAME = 500
_CHUNK = 500  # ids per IN (...)


def _now() -> int:
    return int(time.time() * 1000)


def parse_experiment_id(experiment_id: str | int) -> int:
    """Experiment ids are integers shown as strings, as in MLflow."""
    try:
        return int(str(experiment_id).strip())
    except ValueError:
        raise InvalidParameter(
            f"Invalid experiment id {experiment_id!r}: experiment ids are integers such as '0' or '12'.") from None


def _validate_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"Invalid experiment name {name!r}: give a non-empty string.")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise InvalidParameter(f"Experiment name is {len(name)} characters long; the limit is {MAX_EXPERIMENT_NAME}.")
    return name


def create_experiment(store, name: str, artifact_location: str | None = None,
                      tags: dict[str, str] | None = None, experiment_id: int | None = None) -> str:
    """Create an experiment and return its id; the name must be unused (deleted ones included)."""
    _validate_name(name)

    def unit(conn: Connection) -> str:
        e = tables.experiments.c
        existing = conn.execute(select(e.lifecycle_stage).where(e.name == name)).first()
        if existing is not None:
            state = " in deleted state (restore it, or pick another name)" if existing[0] == "deleted" else ""
            raise ExperimentAlreadyExists(f"Experiment {name!r} already exists{state}.")
        new_id = experiment_id if experiment_id is not None else _next_experiment_id(conn)
        now = _now()
        conn.execute(insert(tables.experiments).values(
            experiment_id=new_id, name=name, artifact_location=artifact_location or str(store.artifact_root),
            lifecycle_stage=LifecycleStage.ACTIVE, creation_time=now, last_update_time=now))
        _set_tags(conn, new_id, tags or {})
        return str(new_id)

    return _write_creation(store, unit)


#: store_info key: the highest experiment id ``sqltrack gc`` has purged (ids are numbered past it).
PURGED_EXPERIMENT_ID = "purged_experiment_id"


def _next_experiment_id(conn: Connection) -> int:
    """One more than any experiment id in use or ever purged: an id a client still holds never names another."""
    highest = conn.execute(select(func.max(tables.experiments.c.experiment_id))).scalar() or 0
    return max(highest, _highest_purged(conn)) + 1


def _highest_purged(conn: Connection) -> int:
    info = tables.store_info.c
    purged = conn.execute(select(info.value).where(info.key == PURGED_EXPERIMENT_ID)).scalar()
    return int(purged or 0)


def record_purged_experiment(conn: Connection, experiment_id: int) -> None:
    """Keep the highest purged experiment id, so that ``_next_experiment_id`` never hands it out again."""
    if _highest_purged(conn) < experiment_id:
        upsert_rows(conn, tables.store_info, [{"key": PURGED_EXPERIMENT_ID, "value": str(experiment_id)}],
                    update=["value"])


def _write_creation(store, unit):
    """Another process may take the same name or id between our check and insert: check again."""
    for attempt in range(5):
        try:
            return store.write(unit)
        except StoreError as error:
            if attempt == 4 or not isinstance(error.__cause__, IntegrityError):
                raise
    raise AssertionError("unreachable")


def _set_tags(conn: Connection, experiment_id: int, tags: dict[str, str]) -> None:
    rows = [{"experiment_id": experiment_id, "key": validate_key(k, "experiment tag"),
             "value": validate_tag_value(k, v)} for k, v in tags.items()]
    upsert_rows(conn, tables.experiment_tags, rows, update=["value"])


def set_experiment_tag(store, experiment_id: str | int, key: str, value: str) -> None:
    """Set (or overwrite) a tag of an experiment."""
    eid = parse_experiment_id(experiment_id)

    def unit(conn: Connection) -> None:
        _require(conn, eid)
        _set_tags(conn, eid, {key: value})

    store.write(unit)


@cache
def _select_experiment_sql():
    return select(tables.experiments).where(tables.experiments.c.experiment_id == bindparam("eid"))


def _require(conn: Connection, eid: int) -> Row:
    row = conn.execute(_select_experiment_sql(), {"eid": eid}).first()
    if row is None:
        raise ExperimentNotFound(f"No experiment with id {eid!r} in this store; "
                                 "'sqltrack experiments list' shows the ones there are.")
    return row


def _to_entity(conn: Connection, row: Row) -> Experiment:
    return _entities(conn, [row])[0]


def _entities(conn: Connection, rows: Sequence[Row]) -> list[Experiment]:
    """Experiments from their rows, with every row's tags read in one query per 500 experiments."""
    tags: dict[int, dict[str, str]] = {row.experiment_id: {} for row in rows}
    ids = list(tags)
    t = tables.experiment_tags.c
    for start in range(0, len(ids), _CHUNK):
        for eid, key, value in conn.execute(
                select(t.experiment_id, t.key, t.value).where(t.experiment_id.in_(ids[start:start + _CHUNK]))):
            tags[eid][key] = value
    return [Experiment(experiment_id=str(row.experiment_id), name=row.name, artifact_location=row.artifact_location,
                       lifecycle_stage=row.lifecycle_stage, tags=tags[row.experiment_id],
                       creation_time=row.creation_time, last_update_time=row.last_update_time) for row in rows]


def load_experiments(conn: Connection, ids: Sequence[int]) -> list[Experiment]:
    """Experiments by id, in the order given (ids not in the store are left out), in the caller's snapshot."""
    rows: dict[int, Row] = {}
    for start in range(0, len(ids), _CHUNK):
        rows.update((row.experiment_id, row) for row in conn.execute(
            select(tables.experiments).where(tables.experiments.c.experiment_id.in_(ids[start:start + _CHUNK]))))
    return _entities(conn, [rows[i] for i in ids if i in rows])


def get_experiment(store, experiment_id: str | int) -> Experiment:
    """The experiment with that id, or ExperimentNotFound."""
    eid = parse_experiment_id(experiment_id)
    return store.read(lambda conn: _to_entity(conn, _require(conn, eid)))


def find_experiment_by_name(store, name: str) -> Experiment | None:
    """The experiment with that name (deleted ones too), or None."""

    def unit(conn: Connection) -> Experiment | None:
        row = conn.execute(select(tables.experiments).where(tables.experiments.c.name == name)).first()
        return None if row is None else _to_entity(conn, row)

    return store.read(unit)


def list_experiments(store, view_type: int = 1) -> list[Experiment]:
    """Every experiment in the given lifecycle view, oldest id first."""
    stages = _stages(view_type)

    def unit(conn: Connection) -> list[Experiment]:
        rows = conn.execute(select(tables.experiments).where(tables.experiments.c.lifecycle_stage.in_(stages))
                            .order_by(tables.experiments.c.experiment_id)).all()
        return _entities(conn, rows)

    return store.read(unit)


def _stages(view_type: int) -> list[str]:
    return {1: ["active"], 2: ["deleted"], 3: ["active", "deleted"]}[int(view_type)]


def set_lifecycle(store, experiment_id: str | int, stage: str) -> None:
    """Delete (soft) or restore an experiment together with its runs, as MLflow does."""
    eid = parse_experiment_id(experiment_id)
    now = _now()

    def unit(conn: Connection) -> None:
        _require(conn, eid)
        if eid == 0 and stage == LifecycleStage.DELETED:
            raise InvalidParameter("The Default experiment (id 0) cannot be deleted.")
        conn.execute(update(tables.experiments).where(tables.experiments.c.experiment_id == eid)
                     .values(lifecycle_stage=stage, last_update_time=now))
        other = LifecycleStage.ACTIVE if stage == LifecycleStage.DELETED else LifecycleStage.DELETED
        deleted_time = now if stage == LifecycleStage.DELETED else None
        r = tables.runs.c
        conn.execute(update(tables.runs).where(r.experiment_id == eid, r.lifecycle_stage == other)
                     .values(lifecycle_stage=stage, deleted_time=deleted_time))

    store.write(unit)


def rename_experiment(store, experiment_id: str | int, new_name: str) -> None:
    """Give an experiment a new, unused name."""
    eid = parse_experiment_id(experiment_id)
    _validate_name(new_name)

    def unit(conn: Connection) -> None:
        _require(conn, eid)
        e = tables.experiments.c
        clash = conn.execute(select(e.experiment_id).where(e.name == new_name)).first()
        if clash is not None and clash[0] != eid:
            raise InvalidParameter(f"Experiment {new_name!r} already exists; pick another name.")
        conn.execute(update(tables.experiments).where(tables.experiments.c.experiment_id == eid)
                     .values(name=new_name, last_update_time=_now()))

    store.write(unit)
