"""Checks made when a collection is created, opened or queried; errors name the file or field and the reason."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np

from mmret.index.store import MetadataStore
from mmret.index.values import CollectionError

FORMAT_VERSION = 2
DB_FILE = "collection.sqlite"
_SPACE_NAME = re.compile(r"[A-Za-z0-9_-]+")


def check_settings(model_id: str, spaces: dict[str, int]) -> None:
    if not isinstance(model_id, str) or not model_id:
        raise CollectionError(f"model_id must be a non-empty string, got {model_id!r}")
    if not isinstance(spaces, dict) or not spaces:
        raise CollectionError(f"spaces must be a non-empty dict of name -> dimension, got {spaces!r}")
    for name, dim in spaces.items():
        if not isinstance(name, str) or not _SPACE_NAME.fullmatch(name):
            raise CollectionError(f"space name {name!r} must use only letters, digits, '_' and '-'")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise CollectionError(f"space {name!r}: dimension must be a positive integer, got {dim!r}")


def check_format(path: Path, store: MetadataStore) -> int:
    try:
        version = store.get_meta("format_version")
    except (sqlite3.DatabaseError, ValueError) as error:
        raise CollectionError(f"{path / DB_FILE}: not a collection database ({error})") from error
    if not isinstance(version, int):
        raise CollectionError(f"{path / DB_FILE}: not a collection database (no format version)")
    if version > FORMAT_VERSION:
        raise CollectionError(
            f"{path}: collection format version {version} is newer than this mmret supports ({FORMAT_VERSION})"
        )
    return version


def as_queries(queries: np.ndarray, space: str, dim: int) -> np.ndarray:
    queries = np.asarray(queries)
    if queries.ndim != 2 or queries.shape[1] != dim or queries.dtype.kind != "f":
        raise CollectionError(
            f"queries for space {space!r} must be a float array of shape (q, {dim}), "
            f"got {queries.dtype} {queries.shape}"
        )
    if not np.isfinite(queries).all():
        raise CollectionError(f"queries for space {space!r} contain non-finite values")
    return np.ascontiguousarray(queries, dtype=np.float32)
