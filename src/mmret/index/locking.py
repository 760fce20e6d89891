"""flock on a collection's lock file, held exclusively by commits, merges and the cleanup of leftover files.

Readers take no lock: SQLite's own read transaction keeps their view whole (see generation.py).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "collection.lock"
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


@contextmanager
def locked(directory: Path, blocking: bool = True) -> Iterator[bool]:
    """Yields whether the exclusive lock is held: False when another process holds it and `blocking` is off,
    or when the directory is read-only or not writable (nobody can write there)."""
    try:
        handle = open(directory / LOCK_FILE, "a")  # noqa: SIM115 -- held across the yield, closed below
    except OSError as error:
        if error.errno not in _NOT_WRITABLE:
            raise
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
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
