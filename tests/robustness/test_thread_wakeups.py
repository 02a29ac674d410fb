"""A sweep of short runs leaves sqltrack's background threads asleep.

Each wake-up of the heartbeat or flush timer thread costs the logging thread a switch
(~75 µs on a 2-core VM); once per run, that was a sixth of a short run's cost. Linux
counts each thread's sleeps in /proc, which is what these tests read.
"""

from __future__ import annotations

import os
import time

import pytest

from sqltrack.api.buffer import FLUSH_SECONDS
from sqltrack.store import liveness

pytestmark = [
    pytest.mark.sqlite_only,  # about threads, not backends
    pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux's per-thread /proc counters"),
]


def _switches(thread) -> int:
    """How often a thread has gone to sleep and been woken."""
    with open(f"/proc/self/task/{thread.native_id}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))


def test_runs_started_and_ended_back_to_back_leave_the_heartbeat_thread_asleep(client):
    heart = liveness.Heartbeat()
    ids = [client.create_run("0").info.run_id for _ in range(51)]
    heart.add(client.store, ids[0])
    heart.remove(ids[0])
    time.sleep(0.2)  # the thread is waiting for its next beat
    before = _switches(heart._thread)
    for run_id in ids[1:]:
        heart.add(client.store, run_id)
        time.sleep(0.001)  # the run's work, which lets other threads run
        heart.remove(run_id)
        time.sleep(0.001)
    time.sleep(0.2)
    assert _switches(heart._thread) - before < 10  # a deadline or the GIL may wake it a few times; not per run


def test_runs_logged_and_flushed_back_to_back_leave_the_flush_timer_asleep(client):
    """Each run's first value used to wake the timer thread, already waiting for a deadline."""
    ids = [client.create_run("0").info.run_id for _ in range(41)]
    client.log_metric(ids[0], "m", 1.0)
    timer = client._buffer._thread
    client.flush()
    time.sleep(0.05)
    before = _switches(timer)
    started = time.monotonic()
    for run_id in ids[1:]:
        client.log_metric(run_id, "m", 1.0)
        time.sleep(0.001)
        client.flush()
    assert time.monotonic() - started < FLUSH_SECONDS, "the timer's own deadline fell inside the loop"
    time.sleep(0.05)
    assert timer is client._buffer._thread and _switches(timer) - before < 10


def test_a_value_logged_after_the_timer_went_idle_is_still_flushed_in_time(client, store_path):
    """The idle timer (nothing pending, waiting 30 s) is the one that a new value must wake."""
    from sqltrack import Client

    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, step=0)
    client.flush()
    time.sleep(FLUSH_SECONDS + 0.3)  # the timer passed the old deadline and now waits idle
    assert client._buffer._idle
    client.log_metric(run_id, "m", 2.0, step=1)
    logged = time.monotonic()
    reader = Client(store_path)
    try:
        while len(reader.get_metric_history(run_id, "m")) < 2 and time.monotonic() - logged < 30:
            time.sleep(0.05)
        assert time.monotonic() - logged < FLUSH_SECONDS + 5
    finally:
        reader.close()
