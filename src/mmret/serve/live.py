"""Thread-safe access to a collection that other processes may be writing.

An embedded collection holds a SQLite connection that refuses use from a second thread, so each handle lives on
its own thread and every call runs there. Readers share one handle; when the collection's committed generation
(`committed_generation`) is newer than the one it loaded, a fresh handle is opened beside the old one and swapped
in, so searches never wait for the reload.
Writes go through a second handle on a writer thread, one at a time.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..index.backend import location, open_collection
from ..index.base import SearchParams
from ..index.collection_base import CollectionBase
from ..index.values import Hit, Record

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

    def behind(self) -> bool:
        """Whether another handle committed since this one loaded (False if it was retired: a fresh one replaced it)."""
        try:
            return self.call(lambda store: store.committed_generation()) > self.generation
        except Retired:
            return False

    def _run(self, work: Callable[[CollectionBase], T], current: bool) -> T:
        if current and self.store.committed_generation() != self.store.generation:
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
    """Stands in for a collection where the search module expects one: the reads `mmret.query` makes run on the
    reader handle's thread (through `LiveCollection.read`)."""

    def __init__(self, live: LiveCollection):
        self._live = live
        self.path, self.model_id, self.spaces = live.path, live.model_id, live.spaces

    def get(self, item_id: str) -> Record | None:
        return self._live.read(lambda store: store.get(item_id))

    def find(self, where: dict[str, Any]) -> list[Record]:
        return self._live.read(lambda store: store.find(where))

    def vectors_of(self, item_ids: list[str], space: str) -> dict[str, np.ndarray]:
        return self._live.read(lambda store: store.vectors_of(item_ids, space))

    def setting(self, key: str) -> Any:
        return self._live.read(lambda store: store.setting(key))

    def search(self, space: str, queries: np.ndarray, k: int = 10, where: dict[str, Any] | None = None,
               exclude: list[str] | None = None, params: SearchParams | None = None) -> list[list[Hit]]:
        return self._live.read(lambda store: store.search(space, queries, k, where, exclude, params))

    def has_words(self) -> bool:
        return self._live.read(lambda store: store.has_words())

    def keyword_search(self, query: str, k: int = 10, where: dict[str, Any] | None = None,
                       exclude: list[str] | None = None) -> list[Hit]:
        return self._live.read(lambda store: store.keyword_search(query, k, where, exclude))


class LiveCollection:
    def __init__(self, path: Path, refresh_interval: float = 0.5):
        self.path = location(path)
        self._refresh_interval = refresh_interval
        self._reader = StoreThread(self.path, "reader")
        self._writer: StoreThread | None = None
        self._writer_lock = threading.Lock()
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

    def _refresh_if_behind(self, wait: bool = False) -> None:
        now = time.monotonic()
        if now - self._checked_at < self._refresh_interval:
            return
        self._checked_at = now
        if not self._reader.behind():
            return
        if wait:
            self._swap_reader()
        elif self._refreshing.acquire(blocking=False):
            self._refreshing.release()
            threading.Thread(target=self._swap_reader, name="mmret-refresh", daemon=True).start()

    def _swap_reader(self) -> None:
        with self._refreshing:
            if not self._reader.behind():
                return
            fresh = StoreThread(self.path, "reader")
            old, self._reader = self._reader, fresh
            old.retire()
