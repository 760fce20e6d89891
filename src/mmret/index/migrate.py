"""Format version 1 -> 2: each space's single FAISS file (`<space>.g<N>.faiss`, an IndexIDMap2 over an
exact IndexFlatIP) becomes that space's first segment; rows, ids and metadata stay as they are.

Runs under the exclusive lock. The SQLite transaction that lists the new segments and sets version 2 is
the commit point; the old FAISS files are removed only after it, as stale files of an older generation.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from mmret.errors import BadInput
from mmret.index.checks import FORMAT_VERSION, CollectionError
from mmret.index.locking import fsync_directory, locked
from mmret.index.segment import Segment
from mmret.index.store import MetadataStore


def migrate_if_older(path: Path, store: MetadataStore) -> None:
    """Migrate under the exclusive lock, unless another process just did."""
    with locked(path) as held:
        if not held:
            raise CollectionError(f"{path}: collection format version 1 must be migrated once, which needs a "
                                  f"writable directory; run `mmret migrate --collection {path}` where it is writable")
        if store.get_meta("format_version") < FORMAT_VERSION:  # another process may have just done it
            try:
                migrate_version_1(path, store)
            except (OSError, ValueError, RuntimeError) as error:
                raise CollectionError(f"{path}: cannot migrate from format version 1: {error}") from error


def migrate_version_1(directory: Path, store: MetadataStore) -> None:
    generation = store.get_meta("generation") + 1
    segments = []
    for space, dim in store.get_meta("spaces").items():
        ids, vectors = _read_version_1(directory / f"{space}.g{generation - 1:06d}.faiss", dim)
        if len(ids):
            segment = Segment.write(directory, f"{space}.g{generation:06d}-0", ids, vectors)
            segments.append((segment.name, space, len(segment)))
    fsync_directory(directory)
    next_id = store.max_id() + 1
    store.migrate_schema({"format_version": 2, "generation": generation, "next_id": next_id,
                          "vector_dtype": "float32"}, segments)


def _read_version_1(file: Path, dim: int) -> tuple[np.ndarray, np.ndarray]:
    index = faiss.read_index(str(file))
    if not isinstance(index, faiss.IndexIDMap2) or index.d != dim:
        raise BadInput(f"{file}: not the exact inner-product index of dimension {dim} that version 1 wrote")
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vectors = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.empty((0, dim), np.float32)
    return ids, np.asarray(vectors, dtype=np.float32)
