"""`check --repair`: rebuild what can be derived from what is stored: a space's ANN index (missing, unreadable or out
of step with its segment), rebuilt by `optimize` with the factory it was built with, and the keyword index.

Only when the stored data itself (the database, the segments) is whole: an index rebuilt from a damaged segment
would carry the damage into the new merged segment, so then nothing is rebuilt and the problems stay listed.
"""

from __future__ import annotations

from mmret.index.collection import VectorCollection
from mmret.index.integrity import check_collection
from mmret.index.values import WORDS


def rebuild_derived(collection: VectorCollection) -> list[str]:
    """The spaces whose ANN index was rebuilt, and WORDS if the keyword index was (none when nothing needed it or
    stored data is damaged)."""
    problems = check_collection(collection.path)
    if not problems or any(problem.index_of is None for problem in problems):
        return []
    rebuilt = sorted({problem.index_of for problem in problems})
    if WORDS in rebuilt:
        collection.index_words()
    for space in (space for space in rebuilt if space != WORDS):
        built = collection.built_index(space)
        collection.optimize(space, factory=built.factory if built else None)
    return rebuilt
