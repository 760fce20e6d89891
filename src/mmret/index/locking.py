"""flock on a collection's lock file: exclusive for commits, merges and cleanup, shared for loading."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "collection.lock"


@contextmanager
def locked(directory: Path, exclusive: bool, blocking: bool = True) -> Iterator[bool]:
    """Yields whether the lock is held. In a read-only directory nobody can write, so a shared lock is not
    needed there and an exclusive one is refused."""
    try:
        handle = open(directory / LOCK_FILE, "a")  # noqa: SIM115 -- held across the yield, closed below
    except PermissionError:
        handle = None
    if handle is None:
        yield not exclusive
        return
    with handle:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle, mode)
            held = True
        except BlockingIOError:
            held = False
        yield held


def fsync_directory(path: Path) -> None:
    """Make the renames of new files durable before the database points at them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
