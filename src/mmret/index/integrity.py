"""`check`: verify an embedded collection's last commit, whole, and name each file that is wrong and how.

Inside one SQLite read transaction (so writers may go on; the check sees one generation): SQLite's own integrity
check; each listed segment's two files present, matching the digests recorded when it was committed (checksums.py)
and loadable with the count, dimension and storage type the database records; in every space, a live vector for
each item that lists the space and no live vector without such an item; the ANN index file present and holding
its segment's vectors; the keyword index, where there is one, holding exactly each item's words.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError

import faiss
import numpy as np

from mmret.errors import StorageFailure
from mmret.index.checks import DB_FILE
from mmret.index.checksums import file_sha256
from mmret.index.keyword_index import WORDS_TABLE, word_row
from mmret.index.store import MetadataStore
from mmret.index.values import WORDS

_NAMED = 5  # item ids named in one problem


class CollectionDamaged(StorageFailure):
    """`check` found problems in a collection's stored files."""


@dataclass(frozen=True)
class Problem:
    file: str  # relative to the collection's folder
    problem: str
    index_of: str | None = None  # the space whose ANN index this problem is in, or WORDS (rebuilt by `repair`)

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"

    def to_dict(self) -> dict:
        return {"file": self.file, "problem": self.problem}


def check_collection(directory: Path) -> list[Problem]:
    """The problems found in the collection in `directory` (none: it is whole)."""
    store = MetadataStore(directory / DB_FILE)
    try:
        with store.reading():
            problems = _database_problems(store)
            if problems:
                return problems  # the lists below come from a database that cannot be trusted
            spaces, dtype = store.get_meta("spaces"), np.dtype(store.get_meta("vector_dtype") or "float32")
            loaded, problems = _loaded_segments(directory, store, spaces, dtype)
            for space in spaces:
                problems += _rows_against_vectors(store, space, loaded)
                problems += _index_problems(directory, store, space, loaded)
            return problems + _words_problems(store)
    except sqlite3.DatabaseError as error:
        return [Problem(DB_FILE, f"cannot be read: {error}")]
    finally:
        store.close()


def _database_problems(store: MetadataStore) -> list[Problem]:
    found = store.integrity_check()
    return [] if found == ["ok"] else [Problem(DB_FILE, f"SQLite integrity check: {line}") for line in found]


def _loaded_segments(directory: Path, store: MetadataStore, spaces: dict[str, int],
                     dtype: np.dtype) -> tuple[dict[str, tuple[str, np.ndarray]], list[Problem]]:
    """name -> (space, ids) of each segment whose files are whole, and the problems of the others."""
    digests, loaded, problems = store.segment_digests(), {}, []
    for name, space, count in store.segments():
        data, ids_file = f"{name}.npy", f"{name}.ids.npy"
        wrong = [Problem(file, what) for file, digest in zip((data, ids_file), digests.get(name, (None, None)))
                 if (what := _file_problem(directory / file, digest))]
        if space not in spaces:
            wrong.append(Problem(data, f"listed for space {space!r}, which the collection does not have"))
        if not wrong:
            ids, wrong = _load_segment(directory, name, count, spaces[space], dtype)
            if ids is not None:
                loaded[name] = (space, ids)
        problems += wrong
    return loaded, problems


def _file_problem(path: Path, digest: str | None) -> str | None:
    if not path.is_file():
        return "missing (the database lists it)"
    if digest is not None and file_sha256(path) != digest:
        return "its content changed since it was committed (SHA-256 differs from the one recorded)"
    return None


def _load_segment(directory: Path, name: str, count: int, dim: int,
                  dtype: np.dtype) -> tuple[np.ndarray | None, list[Problem]]:
    data, ids_file = f"{name}.npy", f"{name}.ids.npy"
    ids, ids_problem = _loaded(directory / ids_file)
    vectors, data_problem = _loaded(directory / data)
    if ids_problem or data_problem:
        return None, [problem for problem in (ids_problem, data_problem) if problem]
    problems = []
    if ids.shape != (count,) or ids.dtype != np.int64:
        problems.append(Problem(ids_file, f"holds {ids.dtype} of shape {ids.shape}, the database records "
                                          f"{count} int64 ids"))
    elif count > 1 and not (np.diff(ids) > 0).all():
        problems.append(Problem(ids_file, "ids are not strictly ascending"))
    if vectors.shape != (count, dim) or vectors.dtype != dtype:
        problems.append(Problem(data, f"holds {vectors.dtype} of shape {vectors.shape}, the database records "
                                      f"{count} {dtype} vectors of dimension {dim}"))
    return (None if problems else np.asarray(ids)), problems


def _loaded(path: Path) -> tuple[np.ndarray | None, Problem | None]:
    try:
        return np.load(path, mmap_mode="r"), None
    except (OSError, ValueError, SyntaxError, TokenError) as error:  # a damaged header: numpy parses it as Python
        return None, Problem(path.name, f"cannot be loaded: {error}")


def _rows_against_vectors(store: MetadataStore, space: str,
                          loaded: dict[str, tuple[str, np.ndarray]]) -> list[Problem]:
    listed = [name for name, owner, _ in store.segments() if owner == space]
    if any(name not in loaded for name in listed):
        return []  # a damaged segment is reported already; its vectors cannot be counted
    dead = np.array([i for owner, i in store.tombstones() if owner == space], dtype=np.int64)
    where = f"{space} segments"
    all_ids = np.concatenate([loaded[name][1] for name in listed]) if listed else np.empty(0, np.int64)
    live = all_ids[~np.isin(all_ids, dead)]
    unique, counts = np.unique(live, return_counts=True)
    problems = []
    if (counts > 1).any():
        problems.append(Problem(where, f"{int((counts > 1).sum())} ids have more than one live vector: "
                                       f"{unique[counts > 1][:_NAMED].tolist()}"))
    expected = {row.id: row.record.item_id for row in store.rows() if space in row.spaces}
    missing = sorted(set(expected) - set(unique.tolist()))
    if missing:
        problems.append(Problem(where, f"{len(missing)} items list space {space!r} but have no vector there: "
                                       f"{[expected[i] for i in missing[:_NAMED]]}"))
    orphans = sorted(set(unique.tolist()) - set(expected))
    if orphans:
        problems.append(Problem(where, f"{len(orphans)} live vectors belong to no item listing space {space!r}: "
                                       f"row ids {orphans[:_NAMED]}"))
    return problems


def _index_problems(directory: Path, store: MetadataStore, space: str,
                    loaded: dict[str, tuple[str, np.ndarray]]) -> list[Problem]:
    built = store.get_meta(f"index:{space}")
    if not built:
        return []
    segment = built.get("segment")
    if segment not in {name for name, owner, _ in store.segments() if owner == space}:
        return [Problem(DB_FILE, f"index:{space} is built over segment {segment!r}, which is not listed", space)]
    if not built.get("file"):
        return []  # Flat: searches the segment itself
    path = directory / built["file"]
    if not path.is_file():
        return [Problem(built["file"], f"missing (the {space!r} index the database records)", space)]
    try:
        total = faiss.read_index(str(path)).ntotal
    except RuntimeError as error:
        return [Problem(built["file"], f"cannot be loaded: {error}", space)]
    if segment in loaded and total != len(loaded[segment][1]):
        return [Problem(built["file"], f"indexes {total} vectors, its segment {segment} holds "
                                       f"{len(loaded[segment][1])}", space)]
    return []


def _words_problems(store: MetadataStore) -> list[Problem]:
    """The keyword index against the items: a row per item holding its words, no other rows."""
    words = store.words
    if not words.exists():
        return []  # made before the keyword index: `migrate` adds one
    if not words.in_step():
        return [Problem(WORDS_TABLE, "out of step with the items (an mmret without the keyword index committed "
                                     "since it was written)", WORDS)]
    fields = words.fields()
    stored = dict(words.stored_rows())
    expected = {row.id: row.record for row in store.rows()}
    wrong = [expected[i].item_id for i in sorted(expected) if stored.get(i) != word_row(
        expected[i].text, expected[i].path, expected[i].metadata, fields)]
    orphans = sorted(set(stored) - set(expected))
    problems = []
    if wrong:
        problems.append(Problem(WORDS_TABLE, f"{len(wrong)} items' words are missing or differ from their text, "
                                             f"name and fields: {wrong[:_NAMED]}", WORDS))
    if orphans:
        problems.append(Problem(WORDS_TABLE, f"{len(orphans)} rows belong to no item: row ids {orphans[:_NAMED]}",
                                WORDS))
    return problems
