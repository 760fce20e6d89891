"""Creating a collection: its settings checked and its SQLite file laid down whole, under the exclusive lock."""

from __future__ import annotations

import os
from pathlib import Path

from mmret.index.checks import DB_FILE, FORMAT_VERSION, CollectionError, check_settings
from mmret.index.locking import locked
from mmret.index.store import MetadataStore
from mmret.index.values import CollectionConflict, CollectionWriteFailed
from mmret.index.vectors import STORAGE_DTYPES


def create_database(path: Path, model_id: str, spaces: dict[str, int], vector_dtype: str) -> None:
    check_settings(model_id, spaces)
    if vector_dtype not in STORAGE_DTYPES:
        raise CollectionError(f"vector_dtype must be one of {STORAGE_DTYPES}, got {vector_dtype!r}")
    if (path / DB_FILE).exists():
        raise CollectionConflict(f"{path}: already holds a collection")
    path.mkdir(parents=True, exist_ok=True)
    with locked(path) as held:  # two processes creating at once: one creates, the other is told
        if not held:
            raise CollectionWriteFailed(f"{path}: cannot create a collection: the directory is read-only or not writable")
        if (path / DB_FILE).exists():
            raise CollectionConflict(f"{path}: already holds a collection")
        # Built under a temporary name so that a half-created collection is never seen.
        temp = path / (DB_FILE + ".tmp")
        temp.unlink(missing_ok=True)
        meta = {"format_version": FORMAT_VERSION, "model_id": model_id, "spaces": dict(spaces), "generation": 0,
                "next_id": 1, "vector_dtype": vector_dtype}
        MetadataStore.create(temp, meta).close()
        os.replace(temp, path / DB_FILE)
