"""flock on a collection's lock files: the commit lock, held by commits, merges, creation and the cleanup of
leftover files, and the writer lock, held by a whole indexing or import run.

Readers take no lock: SQLite's own read transaction keeps their view whole (see generation.py).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = "collection.lock"
WRITER_FILE = "writer.lock"
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


@contextmanager
def one_writer(directory: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Held for a whole run that writes many commits, so that a second run waits (saying so through `on_wait`)
    before it reads what there is to do, instead of redoing the first one's work beside it. In a directory that
    cannot be written, nothing is held: the run's first commit refuses."""
    try:
        handle = open(directory / WRITER_FILE, "a+")  # noqa: SIM115 -- held across the yield, closed below
    except OSError as error:
        if error.errno not in _NOT_WRITABLE:
            raise
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            on_wait(f"{directory}: waiting for another writer ({handle.read().strip() or 'a process'}) to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield


def fsync_directory(path: Path) -> None:
    """Make the renames of new files durable before the database points at them."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
