"""Decode worker processes that never outlive their parent and leave Ctrl-C and SIGTERM to it.

A worker asks Linux for a parent-death signal (prctl PR_SET_PDEATHSIG); elsewhere a watchdog thread polls
the parent's pid. So a SIGKILLed `mmret index` leaves no orphans holding memory and its stdout open.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCHDOG_SECONDS = 0.5


def init_worker(parent: int) -> None:
    """The pool initializer: bind this worker's life to `parent` (the pid that created the pool)."""
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the parent stops the pool. A worker
    # dying mid-reply would leave half a message in the result pipe and the pool's manager thread stuck on it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not _ask_for_parent_death_signal():
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)


def _ask_for_parent_death_signal() -> bool:
    """SIGKILL this process when the thread that forked it ends; False where prctl is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)
