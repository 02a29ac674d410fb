"""Signs of life of RUNNING runs: a heartbeat, stale-run detection and ``mark-dead``.

A run killed by SIGKILL, the OOM killer or a lost node stays RUNNING for ever: nothing
was left alive to end it. Every write to a run (a logged value, a status change) stamps
``runs.last_activity_time``; while a run is active in a process that uses the fluent API,
a daemon thread also stamps it every :data:`HEARTBEAT_SECONDS`, so a run that is quiet
but alive (a long evaluation) keeps showing signs of life. A RUNNING run whose last sign
of life is older than a grace period is *stale*; :func:`mark_dead` ends stale runs as
KILLED (or FAILED), with their last sign of life as end time.

Time is read from one clock: "now" is the database's clock (SQLite's is the machine's),
and the heartbeat writes that same clock, so clock skew between worker machines of a
server database does not make live runs look dead. Ordinary writes stamp the writer's
clock; a skewed worker is corrected by its next heartbeat.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import BigInteger, Connection, and_, bindparam, cast, func, literal_column, select, update

from ..errors import InvalidParameter
from .tables import tables

#: How often an active fluent run stamps ``last_activity_time`` (seconds).
HEARTBEAT_SECONDS = 30.0
#: Default grace period: a RUNNING run silent for longer than this is stale (seconds).
DEFAULT_GRACE_SECONDS = 600.0
#: The statuses that ``mark_dead`` may set.
DEAD_STATUSES = ("KILLED", "FAILED")

_CHUNK = 500


@dataclass(frozen=True)
class StaleRun:
    """A RUNNING run without a sign of life for longer than the grace period."""

    run_id: str
    experiment_id: str
    name: str | None
    last_activity_time: int  # ms since the epoch: its last sign of life
    idle_ms: int  # how long ago that was, by the database's clock


def now_ms_sql(dialect_name: str):
    """A SQL expression for the database's current time in milliseconds since the epoch."""
    if dialect_name == "sqlite":
        expr = literal_column("(julianday('now') - 2440587.5) * 86400000.0")
    elif dialect_name == "postgresql":
        expr = literal_column("EXTRACT(EPOCH FROM clock_timestamp()) * 1000")
    elif dialect_name in ("mysql", "mariadb"):
        expr = literal_column("UNIX_TIMESTAMP(NOW(3)) * 1000")
    else:
        return bindparam("py_now", int(time.time() * 1000), type_=BigInteger)
    return cast(func.round(expr), BigInteger)


def db_now_ms(conn: Connection) -> int:
    """The database's current time, in milliseconds since the epoch."""
    return int(conn.execute(select(now_ms_sql(conn.dialect.name))).scalar())


def _last_sign_of_life():
    runs = tables.runs
    return func.coalesce(runs.c.last_activity_time, runs.c.start_time, 0)


def _check_grace(grace_seconds: float) -> int:
    if not isinstance(grace_seconds, (int, float)) or grace_seconds != grace_seconds or grace_seconds < 0:
        raise InvalidParameter(f"The grace period must be a number of seconds >= 0, not {grace_seconds!r}.")
    return int(grace_seconds * 1000)


def _stale_query(conn: Connection, grace_ms: int, experiment_ids: Sequence[int] | None,
                 run_ids: Sequence[str] | None) -> tuple[int, list]:
    now = db_now_ms(conn)
    last = _last_sign_of_life()
    runs = tables.runs
    query = (select(runs.c.id, runs.c.run_uuid, runs.c.experiment_id, runs.c.name, last.label("last"))
             .where(runs.c.status == "RUNNING", last < now - grace_ms)
             .order_by(runs.c.id))
    if experiment_ids is not None:
        query = query.where(runs.c.experiment_id.in_(list(experiment_ids)))
    if run_ids is None:
        return now, conn.execute(query).all()
    rows: list = []
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        rows.extend(conn.execute(query.where(runs.c.run_uuid.in_(ids[start:start + _CHUNK]))).all())
    return now, rows


def _stale(now: int, row) -> StaleRun:
    return StaleRun(row.run_uuid, str(row.experiment_id), row.name, int(row.last), now - int(row.last))


def find_stale_runs(store, grace_seconds: float = DEFAULT_GRACE_SECONDS, *,
                    experiment_ids: Iterable[str | int] | None = None,
                    run_ids: Iterable[str] | None = None) -> list[StaleRun]:
    """RUNNING runs whose last sign of life is older than ``grace_seconds`` (read-only)."""
    grace_ms = _check_grace(grace_seconds)
    exp_ids = None if experiment_ids is None else [int(e) for e in experiment_ids]
    wanted = None if run_ids is None else [str(r) for r in run_ids]

    def unit(conn: Connection) -> list[StaleRun]:
        now, rows = _stale_query(conn, grace_ms, exp_ids, wanted)
        return [_stale(now, r) for r in rows]

    return store.read(unit)


def mark_dead(store, grace_seconds: float = DEFAULT_GRACE_SECONDS, *, status: str = "KILLED",
              experiment_ids: Iterable[str | int] | None = None, run_ids: Iterable[str] | None = None,
              dry_run: bool = False) -> list[StaleRun]:
    """End every stale run as ``status`` (KILLED or FAILED); returns the runs it ended.

    One write transaction: a run that shows a sign of life before it commits is left alone
    (the update re-checks the condition), so a live run is never ended by a race. The end
    time is the run's last sign of life.
    """
    if status not in DEAD_STATUSES:
        raise InvalidParameter(f"mark_dead sets KILLED or FAILED, not {status!r}.")
    grace_ms = _check_grace(grace_seconds)
    exp_ids = None if experiment_ids is None else [int(e) for e in experiment_ids]
    wanted = None if run_ids is None else [str(r) for r in run_ids]

    def unit(conn: Connection) -> list[StaleRun]:
        now, rows = _stale_query(conn, grace_ms, exp_ids, wanted)
        runs = tables.runs
        ended = []
        for row in rows:
            done = conn.execute(
                update(runs)
                .where(and_(runs.c.id == row.id, runs.c.status == "RUNNING",
                            _last_sign_of_life() < now - grace_ms))
                .values(status=status, end_time=int(row.last)))
            if done.rowcount:
                ended.append(_stale(now, row))
        return ended

    if dry_run:
        return find_stale_runs(store, grace_seconds, experiment_ids=exp_ids, run_ids=wanted)
    return store.write(unit)


def idle_times(store, run_ids: Iterable[str]) -> dict[str, int]:
    """For each given run that is RUNNING: milliseconds since its last sign of life."""
    ids = [str(r) for r in run_ids]
    if not ids:
        return {}
    last = _last_sign_of_life()

    def unit(conn: Connection) -> dict[str, int]:
        now = db_now_ms(conn)
        runs = tables.runs
        found: dict[str, int] = {}
        for start in range(0, len(ids), _CHUNK):
            query = select(runs.c.run_uuid, last).where(runs.c.run_uuid.in_(ids[start:start + _CHUNK]),
                                                        runs.c.status == "RUNNING")
            found.update({uuid: now - int(seen) for uuid, seen in conn.execute(query)})
        return found

    return store.read(unit)


def beat(store, run_ids: Iterable[str]) -> int:
    """Stamp the database's "now" as the last sign of life of these runs (RUNNING ones only)."""
    ids = [str(r) for r in run_ids]
    if not ids:
        return 0

    def unit(conn: Connection) -> int:
        stamp = now_ms_sql(conn.dialect.name)
        runs = tables.runs
        count = 0
        for start in range(0, len(ids), _CHUNK):
            count += conn.execute(update(runs).where(runs.c.run_uuid.in_(ids[start:start + _CHUNK]),
                                                     runs.c.status == "RUNNING")
                                  .values(last_activity_time=stamp)).rowcount
        return count

    return store.write(unit)


class Heartbeat:
    """One daemon thread per process that stamps the active runs of every store it was given."""

    def __init__(self) -> None:
        self._reset()
        # Fork only between beats (a beat in flight would leave the child SQLite's state of an open
        # write transaction), and give the child fresh locks.
        os.register_at_fork(before=lambda: self._writing.acquire(), after_in_parent=lambda: self._writing.release(),
                            after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._writing = threading.Lock()
        self._pid = os.getpid()
        self._runs: dict[str, object] = {}  # run id -> its store
        self._thread: threading.Thread | None = None
        self._idle = False  # the thread has no runs and waits one period for the next

    def add(self, store, run_id: str) -> None:
        """Keep stamping ``run_id`` until :meth:`remove` (or the process ends)."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's runs are the parent's business
                self._reset()
            self._runs[run_id] = store
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="sqltrack-heartbeat", daemon=True)
                self._thread.start()
            elif self._idle:
                self._wake.notify()  # the idle thread resumes beating

    def remove(self, run_id: str) -> None:
        """Stop stamping ``run_id``. The thread is not woken: it finds the run gone at its next
        beat (waking it here, and again for the next run, cost a sweep ~150 µs per run)."""
        with self._lock:
            self._runs.pop(run_id, None)

    def run_ids(self) -> list[str]:
        with self._lock:
            return list(self._runs) if self._pid == os.getpid() else []

    def _loop(self) -> None:
        """Beat every HEARTBEAT_SECONDS; with no runs, wait one more period for the next (a sweep
        starts runs back to back, and starting a thread per run costs milliseconds), then end."""
        pid = os.getpid()
        while True:
            with self._lock:
                self._wake.wait(timeout=HEARTBEAT_SECONDS)
                if self._pid != pid:
                    return
                if not self._runs:
                    self._idle = True
                    self._wake.wait(timeout=HEARTBEAT_SECONDS)
                    self._idle = False
                    if not self._runs:
                        self._thread = None
                        return
                    continue
                by_store: dict[int, tuple[object, list[str]]] = {}
                for run_id, store in self._runs.items():
                    by_store.setdefault(id(store), (store, []))[1].append(run_id)
            for store, ids in by_store.values():
                with self._writing:
                    try:
                        beat(store, ids)
                    except Exception:  # noqa: BLE001 - a missed beat only makes the run look idle sooner
                        pass


#: The process's heartbeat (used by the fluent API).
HEARTBEAT = Heartbeat()

__all__ = ["HEARTBEAT_SECONDS", "DEFAULT_GRACE_SECONDS", "StaleRun", "find_stale_runs", "mark_dead",
           "idle_times", "beat", "db_now_ms", "now_ms_sql", "Heartbeat", "HEARTBEAT"]
