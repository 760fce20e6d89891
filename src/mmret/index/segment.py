"""An immutable segment: the vectors one commit (or one merge) wrote for one space.

Two memory-mapped files, `<name>.npy` (n, d) in the storage dtype and `<name>.ids.npy` (n,) int64 ids in
ascending order. They are written once, before the SQLite commit that lists them, and never changed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmret.errors import BadInput
from mmret.index.vectors import Neighbors, exact_search

_DATA_FILE = re.compile(r"(?P<space>[A-Za-z0-9_-]+?)\.g\d{6}(-\d+)?(\.ids)?\.(npy|faiss)(\.tmp)?")


@dataclass(frozen=True)
class Segment:
    name: str
    ids: np.ndarray  # int64 (n,), ascending
    vectors: np.ndarray  # (n, d) float32, float16 or int8

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def write(cls, directory: Path, name: str, ids: np.ndarray, vectors: np.ndarray) -> Segment:
        order = np.argsort(ids, kind="stable")
        ids, vectors = np.ascontiguousarray(ids[order], dtype=np.int64), np.ascontiguousarray(vectors[order])
        _write_npy(directory / f"{name}.ids.npy", ids)
        _write_npy(directory / f"{name}.npy", vectors)
        return cls.open(directory, name, len(ids), vectors.shape[1])

    @classmethod
    def open(cls, directory: Path, name: str, count: int, dim: int) -> Segment:
        """Memory-map a segment, checking it holds `count` vectors of dimension `dim`."""
        # Plain arrays over the maps: numpy's memmap subclass costs microseconds per indexing operation.
        ids = np.asarray(np.load(directory / f"{name}.ids.npy", mmap_mode="r"))
        vectors = np.asarray(np.load(directory / f"{name}.npy", mmap_mode="r"))
        if ids.shape != (count,) or vectors.shape != (count, dim):
            raise BadInput(f"holds {len(ids)} ids and vectors of shape {vectors.shape}, "
                           f"expected {count} vectors of dimension {dim}")
        return cls(name, ids, vectors)

    def files(self) -> tuple[str, str]:
        return f"{self.name}.npy", f"{self.name}.ids.npy"

    def select(self, mask: np.ndarray) -> np.ndarray:
        """`mask` (over row ids) at this segment's ids; a view when the ids are one unbroken run, as after an
        import or a merge of consecutive commits, so a filter costs no gather there. Ids past the mask's end
        (items removed since this segment was written, whose rows the mask no longer covers) are not selected."""
        if len(self.ids) and int(self.ids[-1]) >= len(mask):
            mask = np.concatenate([mask, np.zeros(int(self.ids[-1]) + 1 - len(mask), dtype=bool)])
        if len(self.ids) and int(self.ids[-1]) - int(self.ids[0]) == len(self.ids) - 1:
            return mask[int(self.ids[0]) : int(self.ids[-1]) + 1]
        return mask[self.ids]

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions in this segment of those `ids` it holds."""
        at = np.searchsorted(self.ids, ids)
        inside = at < len(self.ids)
        at = at[inside]
        return at[self.ids[at] == ids[inside]]

    def search(self, queries: np.ndarray, k: int, live: np.ndarray | None) -> list[Neighbors]:
        return exact_search(self.vectors, self.ids, queries, k, live)


def _write_npy(path: Path, array: np.ndarray) -> None:
    """Atomically and durably: a temp file, fsync, rename."""
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "wb") as file:
        np.save(file, array, allow_pickle=False)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temp, path)


def merge(directory: Path, name: str, segments: list[Segment], dead: np.ndarray) -> Segment:
    """Write one segment holding the rows of `segments` whose ids are not in `dead`, in id order.

    Streams block by block into a memory-mapped file, so a merge never holds all vectors in memory twice.
    """
    kept = [(segment, ~np.isin(segment.ids, dead)) for segment in segments]
    ids = np.concatenate([segment.ids[keep] for segment, keep in kept]) if kept else np.empty(0, np.int64)
    order = np.argsort(ids, kind="stable")
    dim, dtype = segments[0].vectors.shape[1], segments[0].vectors.dtype
    temp = directory / f"{name}.npy.tmp"
    out = np.lib.format.open_memmap(temp, mode="w+", dtype=dtype, shape=(len(ids), max(dim, 1)))
    sources = np.concatenate([np.full(int(keep.sum()), i) for i, (_, keep) in enumerate(kept)])[order]
    rows = np.concatenate([np.flatnonzero(keep) for _, keep in kept])[order]
    for start in range(0, len(ids), 65_536):
        block = slice(start, start + 65_536)
        for source in np.unique(sources[block]):
            here = np.flatnonzero(sources[block] == source)
            out[start + here] = segments[source].vectors[rows[block][here]]
    out.flush()
    del out
    with open(temp, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(temp, directory / f"{name}.npy")
    _write_npy(directory / f"{name}.ids.npy", np.ascontiguousarray(ids[order]))
    return Segment.open(directory, name, len(ids), dim)


def remove_unlisted(directory: Path, spaces: set[str], segments: list[str], index_files: list[str]) -> None:
    """Delete the data files of `spaces` (segments, indexes, temp files) that the committed lists do not name:
    leftovers of interrupted commits and the files that merges replaced. Other files are never touched."""
    live = {f"{name}{suffix}" for name in segments for suffix in (".npy", ".ids.npy")} | set(index_files)
    for file in directory.iterdir():
        match = _DATA_FILE.fullmatch(file.name)
        if match and match["space"] in spaces and file.name not in live:
            file.unlink(missing_ok=True)
