"""Connections to one SQLite file for the threads other than its handle's: one per thread, kept, closed together.

A handle's connection serves its own thread only. Another thread that reads (a server's request thread reading
its hits' records) gets a connection of its own at its first read and keeps it: opening and closing one per read
doubled the cost of reading a search's records (benchmarks/served_records.py). All of them close when the handle
does; a thread's connection also closes when that thread ends (a thread-local holds it), so threads that come and
go (a server's worker pool) leave none behind. Reads after `close` use a connection of their own.
"""
from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import closing
from typing import TypeVar

T = TypeVar("T")


class ThreadReaders:
    def __init__(self, path: str):
        self._path = path
        self._local = threading.local()
        self._open: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._closed = False

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """`query(connection)` on this thread's connection (opened at its first read); after `close`, on one opened
        for this read only."""
        reader = self._reader()
        with reader.lock:
            if reader.db is not None:
                return query(reader.db)
        with closing(_connect(self._path)) as db:
            return query(db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            readers = list(self._open)
        for reader in readers:
            reader.close()

    def _reader(self) -> _Reader:
        reader = getattr(self._local, "reader", None)
        if reader is None:
            with self._lock:
                reader = _Reader(None if self._closed else _connect(self._path))
                self._open.add(reader)
            self._local.reader = reader
        return reader


class _Reader:
    """One thread's connection; the lock keeps `close` (called from the handle's thread) from racing a read."""

    __slots__ = ("__weakref__", "db", "lock")

    def __init__(self, db: sqlite3.Connection | None):
        self.db = db
        self.lock = threading.Lock()

    def close(self) -> None:
        with self.lock:
            if self.db is not None:
                self.db.close()
                self.db = None

    __del__ = close  # the thread that held it ended


def _connect(path: str) -> sqlite3.Connection:
    # Used by one thread at a time (the reader's lock), though closed from another: hence check_same_thread.
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
