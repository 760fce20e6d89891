"""One commit's staged writes, written out: the items as rows with fresh ids, and per vector space the batch's
segment, a tiered merge if one is due (merging.py), and tombstones for the vectors of replaced and removed items.

None of it is visible until the caller records the rows and changes in SQLite in one transaction, the commit point
(collection.py); files of a batch that never got there are leftovers that the next writer removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmret.index.checksums import segment_digests
from mmret.index.merging import segments_to_merge
from mmret.index.segment import Segment, merge
from mmret.index.space import SpaceVectors
from mmret.index.store import Changes, MetadataStore, Row
from mmret.index.values import Record
from mmret.index.vectors import encode

SpaceUpdate = tuple[str, list[Segment], list[str], np.ndarray, np.ndarray]  # space, added, removed, dead, undead


@dataclass(frozen=True)
class Staged:
    record: Record
    vectors: dict[str, np.ndarray]  # space -> (dim,) unit float32 vector


def write_batch(directory: Path, store: MetadataStore, views: dict[str, SpaceVectors], dtype: str, generation: int,
                next_id: int, staged: dict[str, Staged | None]) -> tuple[list[Row], list[int], Changes,
                                                                         list[SpaceUpdate]]:
    """The rows to insert, the ids of the rows they replace or remove, the changes to record with them, and what
    each space's view gains and loses once they are committed."""
    stored = store.ids_of(staged)  # replaced and removed items: their old ids die
    old_spaces = store.spaces_of(stored.values())
    rows, batches = [], {space: ([], []) for space in views}
    for item in staged.values():
        if item is not None:
            rows.append(Row(next_id, item.record, tuple(sorted(item.vectors))))
            for space, vector in item.vectors.items():
                batches[space][0].append(next_id)
                batches[space][1].append(vector)
            next_id += 1
    changes = Changes({"next_id": next_id})
    updates = []
    for space, (ids, vectors) in batches.items():
        dead = np.array([old for old, spaces in old_spaces.items() if space in spaces], dtype=np.int64)
        updates.append((space, *_write_space(directory, space, views[space], dtype, generation, ids, vectors, dead,
                                             changes)))
    return rows, list(stored.values()), changes, updates


def _write_space(directory: Path, space: str, current: SpaceVectors, dtype: str, generation: int, ids: list[int],
                 vectors: list[np.ndarray], dead: np.ndarray,
                 changes: Changes) -> tuple[list[Segment], list[str], np.ndarray, np.ndarray]:
    """Write a space's new segment (and a tiered merge if one is due); record it in `changes`."""
    added, removed, undead = [], [], np.empty(0, np.int64)
    if ids:
        stored = encode(np.stack(vectors), dtype)
        added.append(Segment.write(directory, f"{space}.g{generation:06d}-0", np.asarray(ids, np.int64), stored))
    group = segments_to_merge(current.unindexed() + added)
    if group:
        all_dead = np.union1d(current.dead, dead)
        merged = merge(directory, f"{space}.g{generation:06d}-1", group, all_dead)
        undead = np.concatenate([g.ids[np.isin(g.ids, all_dead)] for g in group])
        removed = [g.name for g in group]
        added = [s for s in added if s.name not in removed] + [merged]
    changes.segments_added.extend((s.name, space, len(s)) for s in added)
    changes.digests.update((s.name, segment_digests(directory, s.name)) for s in added)
    changes.segments_removed.extend(name for name in removed if name in {s.name for s in current.segments})
    changes.tombstones_added.extend((space, int(i)) for i in dead)
    changes.tombstones_dropped.extend((space, int(i)) for i in undead)
    return added, removed, dead, undead
