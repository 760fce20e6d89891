"""Thread-safe access to a collection that other processes may be writing.

An embedded collection holds a SQLite connection that refuses use from a second thread, so each handle lives on
its own thread and every call runs there. Readers share one handle; when SQLite records a newer committed
generation, a fresh handle is opened beside the old one and swapped in, so searches never wait for the reload.
Writes go through a second handle on a writer thread, one at a time.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..index.backend import is_milvus, location, open_collection
from ..index.checks import DB_FILE
from ..index.collection_base import CollectionBase

T = TypeVar("T")


class Retired(Exception):
    """The handle was replaced by a newer one; the caller retries on the current handle."""


class StoreThread:
    """One CollectionBase handle and the single thread it is used on."""

    def __init__(self, path: Path, name: str):
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"mmret-{name}")
        self._lock = threading.Lock()
        self._retired = False
        self.path = path
        self.store: CollectionBase = self._executor.submit(open_collection, path).result()
        self.generation = self.store.generation

    def call(self, work: Callable[[CollectionBase], T], current: bool = False) -> T:
        """`work(store)` on this handle's thread; with `current`, the handle first re-opens if another process
        committed since it loaded (a writer must start from the last commit)."""
        with self._lock:  # calls queued before retire() still run before the handle closes
            if self._retired:
                raise Retired
            future = self._executor.submit(self._run, work, current)
        return future.result()

    def _run(self, work: Callable[[CollectionBase], T], current: bool) -> T:
        if current and CommittedGeneration.of(self.path) != self.store.generation:
            self.store.close()
            self.store = open_collection(self.path)
        try:
            return work(self.store)
        finally:
            self.generation = self.store.generation

    def retire(self) -> None:
        with self._lock:
            if self._retired:
                return
            self._retired = True
            self._executor.submit(self.store.close)
        self._executor.shutdown(wait=False)


class OnThread:
    """Stands in for a CollectionBase where the search module expects one: method calls run on the handle's
    thread (through `LiveCollection.read`), so `mmret.search` is used unchanged."""

    def __init__(self, live: LiveCollection):
        self._live = live
        self.path, self.spaces = live.path, live.spaces  # attributes, not methods: read once

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return lambda *args, **kwargs: self._live.read(lambda store: getattr(store, name)(*args, **kwargs))


class LiveCollection:
    def __init__(self, path: Path, refresh_interval: float = 0.5):
        self.path = location(path)
        self._refresh_interval = refresh_interval
        self._reader = StoreThread(self.path, "reader")
        self._writer: StoreThread | None = None
        self._writer_lock = threading.Lock()
        self._committed = CommittedGeneration(self.path)
        self._refreshing = threading.Lock()
        self._checked_at = time.monotonic()
        self.model_id = self._reader.store.model_id
        self.spaces = self._reader.store.spaces

    @property
    def generation(self) -> int:
        return self._reader.generation

    def read(self, work: Callable[[CollectionBase], T]) -> T:
        self._refresh_if_behind()
        for _ in range(3):
            try:
                return self._reader.call(work)
            except Retired:
                continue
        return self._reader.call(work)

    def write(self, work: Callable[[CollectionBase], T]) -> T:
        """Run `work` on the writer handle (first brought up to the last commit); readers refresh after it."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = StoreThread(self.path, "writer")
            writer = self._writer
        result = writer.call(work, current=True)
        self._checked_at = 0.0
        self._refresh_if_behind(wait=True)
        return result

    def close(self) -> None:
        self._reader.retire()
        if self._writer is not None:
            self._writer.retire()
        self._committed.close()

    def _refresh_if_behind(self, wait: bool = False) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._refresh_interval:
            return
        self._checked_at = now
        if self._committed.read() <= self._reader.generation:
            return
        if wait:
            self._swap_reader()
        elif self._refreshing.acquire(blocking=False):
            self._refreshing.release()
            threading.Thread(target=self._swap_reader, name="mmret-refresh", daemon=True).start()

    def _swap_reader(self) -> None:
        with self._refreshing:
            if self._committed.read() <= self._reader.generation:
                return
            fresh = StoreThread(self.path, "reader")
            old, self._reader = self._reader, fresh
            old.retire()


class CommittedGeneration:
    """The generation number SQLite records as committed (the collection's commit point), read cheaply; on Milvus,
    the commit count kept as a collection property."""

    def __init__(self, path: Path | str):
        self._lock = threading.Lock()
        self._milvus = open_collection(path) if is_milvus(path) else None
        if self._milvus is None:
            self._db = sqlite3.connect(f"file:{Path(path) / DB_FILE}?mode=ro", uri=True, check_same_thread=False)

    def read(self) -> int:
        with self._lock:
            if self._milvus is not None:
                return self._milvus.committed_generation()
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(json.loads(row[0]))

    def close(self) -> None:
        (self._db if self._milvus is None else self._milvus).close()

    @classmethod
    def of(cls, path: Path) -> int:
        reader = cls(path)
        try:
            return reader.read()
        finally:
            reader.close()
