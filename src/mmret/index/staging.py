"""Writes staged in memory and committed together: the part every collection backend shares."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from typing_extensions import Self

from .checks import CollectionError


class StagedWrites:
    """`upsert` and `remove` stage changes (item_id -> new state, None = removed); the backend's `commit`
    applies them all at once. Outside `transaction()` each write commits at once.

    A backend calls `_start_staging()` in its constructor; the collection base declares the `path`, `close`,
    `commit` and `_stored_ids` it provides."""

    _staged: dict[str, Any]
    _in_transaction: bool

    def _start_staging(self) -> None:
        self._staged = {}
        self._in_transaction = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def remove(self, item_ids: Iterable[str]) -> int:
        """Remove items by item_id; unknown ids are ignored. Returns how many were present."""
        item_ids = list(dict.fromkeys(id_list(item_ids)))
        stored = self._stored_ids([item_id for item_id in item_ids if item_id not in self._staged])
        present = [i for i in item_ids if (self._staged[i] is not None if i in self._staged else i in stored)]
        for item_id in present:
            self._staged[item_id] = None
        self._autocommit()
        return len(present)

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """Group writes into one commit; on an exception they are all discarded."""
        if self._in_transaction:
            raise CollectionError(f"{self.path}: transactions do not nest")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._staged.clear()
            raise
        else:
            self.commit()
        finally:
            self._in_transaction = False

    def _autocommit(self) -> None:
        if not self._in_transaction:
            self.commit()


def id_list(item_ids: Iterable[str]) -> list[str]:
    if isinstance(item_ids, str):  # a lone id would otherwise be read as its characters
        raise CollectionError(f"expected a list of item_ids, got the string {item_ids!r}")
    return list(item_ids)
