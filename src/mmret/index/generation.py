"""A handle's view of one committed generation, brought up to date when another process commits.

A handle holds the vector side of a generation in memory (memory-mapped segments, tombstones, the loaded ANN
index) while the item rows stay in SQLite. Each read runs inside a SQLite read transaction: its shared lock
keeps writers from committing until the read ends, and a view older than the generation SQLite records is first
brought up to it there. So a search's vectors and the rows it looks up always belong to the same commit.

The files a generation lists exist as long as it is the last commit (a writer deletes the files it replaced only
after committing, which it cannot do during a read), and segments already mapped stay readable once deleted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmret.errors import BadInput
from mmret.index.segment import Segment
from mmret.index.space import SegmentIndex, SpaceVectors
from mmret.index.store import MetadataStore


def committed_spaces(directory: Path, spaces: dict[str, int], store: MetadataStore,
                     current: dict[str, SpaceVectors] | None = None) -> dict[str, SpaceVectors]:
    """Each space as SQLite lists it now (the caller holds a read transaction). With `current`, the view of an
    older generation, its segments and loaded indexes are reused and only the difference is applied.

    Raises ValueError naming a segment that cannot be loaded."""
    segments, tombstones = store.segments(), store.tombstones()
    views = {}
    for space, dim in spaces.items():
        built = store.get_meta(f"index:{space}")
        if current is None or space not in current:
            views[space] = SpaceVectors.open(directory, space, dim, segments, tombstones, built)
        else:
            views[space] = _caught_up(current[space], space, segments, tombstones, built)
    return views


def _caught_up(view: SpaceVectors, space: str, segments: list[tuple[str, str, int]],
               tombstones: list[tuple[str, int]], built: dict | None) -> SpaceVectors:
    listed = [(name, count) for name, owner, count in segments if owner == space]
    held = {segment.name for segment in view.segments}
    added = [_opened(view, name, count) for name, count in listed if name not in held]
    removed = sorted(held - {name for name, _ in listed})
    dead = np.unique(np.array([i for owner, i in tombstones if owner == space], dtype=np.int64))
    same_index = (view.built.to_dict() if view.built else None) == built
    view.changed(added, removed, np.setdiff1d(dead, view.dead), np.setdiff1d(view.dead, dead),
                 view.built if same_index else SegmentIndex.stored(view.directory, space, built))
    return view


def _opened(view: SpaceVectors, name: str, count: int) -> Segment:
    try:
        return Segment.open(view.directory, name, count, view.dim)
    except (OSError, ValueError) as error:
        raise BadInput(f"{view.directory / name}.npy: cannot load a segment: {error}") from error
