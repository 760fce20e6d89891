"""Copies hidden from search (`mmret duplicates --exclude-from-search`): the ids of every copy but the best of each
duplicate group, kept as a collection setting, so that the list survives re-indexing (an item's id is its file's
path) and goes with backups. Every search leaves them out; `duplicates` still lists them."""
from __future__ import annotations

from ..index.collection_base import CollectionBase
from .duplicates import DuplicateGroup

SETTING = "hidden_copies"


def hidden_copies(store: CollectionBase) -> list[str]:
    return list(store.setting(SETTING) or [])


def hide_copies(store: CollectionBase, groups: list[DuplicateGroup]) -> list[str]:
    """Hide every copy but the best of each group (beside those hidden before); the ids hidden now."""
    new = [copy.record.item_id for group in groups for copy in group.copies[1:]]
    store.set_setting(SETTING, sorted({*hidden_copies(store), *new}))
    return new


def show_copies(store: CollectionBase) -> int:
    """Show every hidden copy in search again; how many were hidden."""
    count = len(hidden_copies(store))
    store.set_setting(SETTING, None)
    return count
