"""The collection backend a location names: a folder holds an embedded collection (FAISS + SQLite), a file
ending in `.db` a Milvus Lite one, and `milvus://host:port/name` (or `milvus://host:port/database/name`) a
collection on a Milvus server or cluster. Both backends implement the collection base (collection_base.py).
"""

from __future__ import annotations

import os
from pathlib import Path

from mmret.index.collection import VectorCollection
from mmret.index.collection_base import CollectionBase

MILVUS_SCHEME = "milvus://"
MILVUS_LITE_SUFFIX = ".db"


def location(text: str | os.PathLike) -> str | Path:
    """A path with `~` expanded, or a Milvus server URI as given (a Path would fold its `//`)."""
    text = os.fspath(text)
    return text if text.startswith(MILVUS_SCHEME) else Path(text).expanduser()


def is_milvus(where: str | os.PathLike) -> bool:
    place = location(where)
    return isinstance(place, str) or place.suffix == MILVUS_LITE_SUFFIX


def open_collection(where: str | os.PathLike) -> CollectionBase:
    return _backend(where).open(location(where))


def create_collection(where: str | os.PathLike, model_id: str, spaces: dict[str, int],
                      vector_dtype: str = "float32") -> CollectionBase:
    return _backend(where).create(location(where), model_id, spaces, vector_dtype)


def open_or_create(where: str | os.PathLike, model_id: str, spaces: dict[str, int]) -> CollectionBase:
    return _backend(where).open_or_create(location(where), model_id, spaces)


def collection_exists(where: str | os.PathLike) -> bool:
    return _backend(where).exists(location(where))


def _backend(where: str | os.PathLike) -> type[CollectionBase]:
    if is_milvus(where):
        from mmret.index.milvus import (
            MilvusCollection,  # pymilvus is imported only for Milvus locations
        )

        return MilvusCollection
    return VectorCollection
