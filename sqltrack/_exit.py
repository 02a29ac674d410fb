"""sqltrack's exit handlers, run at a normal exit and also when a forked multiprocessing child ends.

A child that ``multiprocessing`` forked leaves through ``os._exit`` once its target returns, which
skips ``atexit``: runs it started stayed RUNNING and the values it still held were lost (a
spawned child exits normally). In such a child the same handlers are registered as
multiprocessing finalizers, which its exit does run.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import Callable


def at_exit(handler: Callable[[], None], priority: int) -> None:
    """Run ``handler`` at a normal exit (in reverse order of registration, as ``atexit`` does) and
    at the end of a forked multiprocessing child (higher ``priority`` first)."""
    atexit.register(handler)
    os.register_at_fork(after_in_child=lambda: _in_forked_child(handler, priority))
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.parent_process() is not None:
        # first imported inside a multiprocessing child (sqltrack loads its modules when first used);
        # a spawned child then runs the handler twice, at its finalizers and at atexit: each is
        # idempotent (nothing left to end, write or close the second time)
        _finalizer(handler, priority)


def _in_forked_child(handler: Callable[[], None], priority: int) -> None:
    # multiprocessing clears its finalizers after the fork, then runs its after-fork callbacks:
    # register the finalizer from one of those. A plain os.fork() never runs them, and exits
    # normally (atexit) or through os._exit like any program.
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(handler, lambda h: _finalizer(h, priority))


def _finalizer(handler: Callable[[], None], priority: int) -> None:
    from multiprocessing import util

    util.Finalize(None, handler, exitpriority=priority)
