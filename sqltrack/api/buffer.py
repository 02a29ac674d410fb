"""Batching of per-call logging, so that ``log_metric`` in a training loop costs microseconds.

When a point is durable (also in README "Guarantees"): a logged value is written to
the database, in one transaction per run, as soon as any of these happens —
``FLUSH_POINTS`` values are pending; ``FLUSH_SECONDS`` have passed since the oldest
pending value (a background thread sees to it even if the program logs nothing
more); ``flush()``, ``end_run()`` or a read through the same client is called; a
batch call (``log_batch``) or ``synchronous=True`` is used; the interpreter exits
normally. A value that has been written is never lost; a process killed by SIGKILL
loses at most the values of the last ``FLUSH_SECONDS``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable

from .._exit import at_exit
from ..errors import ParamConflict, StoreError
from ..store.batch import Point

FLUSH_POINTS = 10_000
FLUSH_SECONDS = 1.0


@dataclass
class _Pending:
    points: list[Point] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def size(self) -> int:
        return len(self.points) + len(self.params) + len(self.tags)


def _quiesce_at_fork(buffer: "WriteBuffer") -> None:
    """Fork only between flushes, and give the child a fresh lock.

    A flush in flight on another thread at the fork would leave the child with SQLite's
    in-process state of an open write transaction (and the lock held for ever): any write
    the child then makes waits on it.
    """
    ref = weakref.ref(buffer)
    held: list = []

    def before() -> None:
        live = ref()
        if live is not None:
            live._lock.acquire()
            held.append(live._lock)

    def in_parent() -> None:
        while held:
            held.pop().release()

    def in_child() -> None:
        held.clear()
        live = ref()
        if live is not None:
            live._lock = threading.RLock()
            live._wake = threading.Condition(live._lock)
            live._reset()  # the parent's pending values are the parent's to write

    os.register_at_fork(before=before, after_in_parent=in_parent, after_in_child=in_child)


#: Every buffer of this process, flushed when the interpreter exits.
_BUFFERS: weakref.WeakSet[WriteBuffer] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    """Write what every client still holds when the interpreter exits normally; never raises, but
    says on stderr what could not be written.

    Registered when this module is imported: after the store engines' exit handler, which
    therefore runs later and closes their connections once these values are written.
    """
    for buffer in list(_BUFFERS):
        try:
            buffer.flush()
        except Exception as error:  # noqa: BLE001 - the process is ending: say what was lost, once
            import sys

            print(f"sqltrack: logged values could not be written at exit: {error}",
                  file=sys.stderr)


at_exit(_flush_all_at_exit, priority=20)


class WriteBuffer:
    """Pending params, tags and points per run, written by ``sink(run_id, points, params, tags)``."""

    def __init__(self, sink: Callable[[str, list[Point], dict, dict], None],
                 flush_points: int = FLUSH_POINTS, flush_seconds: float = FLUSH_SECONDS,
                 gate: Callable[[], None] | None = None) -> None:
        self._sink = sink
        self._gate = gate  # raises when values cannot be accepted at all (a read-only store)
        self._flush_points = flush_points
        self._flush_seconds = flush_seconds
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._reset()
        _quiesce_at_fork(self)
        _BUFFERS.add(self)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._pending: dict[str, _Pending] = {}
        self._size = 0
        self._oldest: float | None = None
        self._known_params: dict[str, dict[str, str]] = {}
        self._thread: threading.Thread | None = None
        self._idle = False  # the timer thread waits with nothing pending: only a notify wakes it in time

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child must not write its parent's pending values
            self._reset()

    def add_point(self, run_id: str, point: Point) -> None:
        # The hot path of log_metric: no clock and no fork check per call (the timer thread and
        # the at-fork hook see to both).
        with self._lock:
            (self._pending.get(run_id) or self._slot(run_id)).points.append(point)
            self._added(1)

    def add_param(self, run_id: str, key: str, value: str) -> None:
        """Queue a param, refusing at once a value that differs from one this process logged."""
        with self._lock:
            known = self._known_params.setdefault(run_id, {})
            if key in known and known[key] != value:
                raise ParamConflict(
                    f"Changing param values is not allowed: param {key!r} of run {run_id} was already logged with "
                    f"value {known[key]!r}, and now {value!r}. Params are write-once; use another key or a new run.")
            known[key] = value
            self._slot(run_id).params[key] = value
            self._added(1)

    def add_many(self, run_id: str, points: list[Point] = (), params: dict[str, str] | None = None,
                 tags: dict[str, str] | None = None) -> None:
        """Queue the values of one call (log_metrics, log_params, set_tags) together.

        All or nothing: a param conflict refuses the whole call, and no flush (threshold or
        timer) can fall between its values, so a reader never sees half of it.
        """
        with self._lock:
            known = self._known_params.setdefault(run_id, {})
            for key, value in (params or {}).items():
                if key in known and known[key] != value:
                    raise ParamConflict(
                        f"Changing param values is not allowed: param {key!r} of run {run_id} was already logged "
                        f"with value {known[key]!r}, and now {value!r}. Params are write-once; use another key or a "
                        "new run.")
            known.update(params or {})
            slot = self._slot(run_id)
            slot.points.extend(points)
            slot.params.update(params or {})
            slot.tags.update(tags or {})
            self._added(len(points) + len(params or {}) + len(tags or {}))

    def remember_params(self, run_id: str, params: dict[str, str]) -> None:
        """Record params already stored for a run (a resumed run), for early conflict checks."""
        with self._lock:
            self._known_params.setdefault(run_id, {}).update(params)

    def add_tag(self, run_id: str, key: str, value: str) -> None:
        with self._lock:
            self._slot(run_id).tags[key] = value
            self._added(1)

    def _slot(self, run_id: str) -> _Pending:
        slot = self._pending.get(run_id)
        if slot is None:
            if self._gate is not None:
                self._gate()  # refused now, in the caller, rather than kept pending for ever
            slot = self._pending[run_id] = _Pending()
        return slot

    def _added(self, count: int) -> None:
        """Count new values: flush at the size threshold; the timer thread flushes by age."""
        self._size += count
        if self._oldest is None:
            self._oldest = time.monotonic()
            self._ensure_thread()
        if self._size >= self._flush_points:
            self.flush()

    def _ensure_thread(self) -> None:
        """A timer for the new oldest value. A thread waiting for an older value's deadline
        wakes by then anyway and is left alone: waking it for each run's first value cost a
        sweep a thread switch per run."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run_timer, name="sqltrack-flush", daemon=True)
            self._thread.start()
        elif self._idle:
            self._wake.notify()

    def _run_timer(self) -> None:
        with self._lock:
            while self._pid == os.getpid():
                if self._oldest is None:
                    self._idle = True
                    self._wake.wait(timeout=30)
                    self._idle = False
                    if self._oldest is None:
                        return  # idle: the thread ends; the next value starts another
                    continue
                delay = self._oldest + self._flush_seconds - time.monotonic()
                if delay > 0:
                    self._wake.wait(timeout=delay)
                    continue
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - kept pending; the next call or flush() reports it
                    self._wake.wait(timeout=self._flush_seconds)

    def pending_count(self, run_id: str | None = None) -> int:
        with self._lock:
            if run_id is None:
                return self._size
            slot = self._pending.get(run_id)
            return slot.size() if slot else 0

    def flush(self, run_id: str | None = None) -> None:
        """Write pending values (of one run, or all) now; raises if the store refuses them."""
        with self._lock:
            self._check_fork()
            targets = [run_id] if run_id is not None else list(self._pending)
            for rid in targets:
                slot = self._pending.get(rid)
                if slot is None:
                    continue
                try:
                    self._sink(rid, slot.points, slot.params, slot.tags)
                except StoreError:
                    raise  # transient or disk-full: keep the values for the next flush
                except Exception:
                    self._drop(rid)  # the store refused them for good; they are reported, not retried
                    raise
                self._drop(rid)

    def _drop(self, run_id: str) -> None:
        slot = self._pending.pop(run_id, None)
        if slot is not None:
            self._size -= slot.size()
        if not self._pending:
            self._size = 0
            self._oldest = None

    def forget_run(self, run_id: str) -> None:
        with self._lock:
            self._known_params.pop(run_id, None)
