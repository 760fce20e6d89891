"""Keyword search of the embedded collection: the FTS5 words table (keyword_index.py) ranked by BM25, the same
`where` and `exclude` as vector search, and a snippet per hit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mmret.index.columns import MetadataColumns
from mmret.index.keyword_index import snippet_of
from mmret.index.keyword_query import KeywordQuery
from mmret.index.locking import locked
from mmret.index.masks import CompiledFilters
from mmret.index.staging import id_list
from mmret.index.store import MetadataStore
from mmret.index.values import (
    WORDS,
    ChannelRank,
    CollectionError,
    CollectionWriteFailed,
    Hit,
)

_FIRST_PAGE = 64  # matches read before filtering; each further page is 4 times larger


class KeywordSearch:
    """The part of VectorCollection that searches and keeps its keyword index."""

    _path: Path
    _store: MetadataStore
    _columns: MetadataColumns
    _compiled: CompiledFilters

    def has_words(self) -> bool:
        with self._reading():
            return self._store.words.in_step()

    def word_fields(self) -> list[str]:
        return self._store.words.fields()

    def index_words(self, fields: list[str] | None = None) -> None:
        """Build the keyword index from the stored items (an older collection's, or one out of step); with
        `fields`, of those metadata fields from now on. Nothing else changes."""
        with locked(self._path) as held:
            if not held:
                raise CollectionWriteFailed(f"{self._path}: cannot build the keyword index: the directory is "
                                            "read-only or not writable")
            self._store.rebuild_words(fields)

    def keyword_search(self, query: str | KeywordQuery, k: int = 10, where: dict[str, Any] | None = None,
                       exclude: list[str] | None = None) -> list[Hit]:
        """The k items whose words best match `query` (keyword_query.py's syntax), by BM25, each with a snippet and
        its rank and score in the WORDS channel."""
        parsed = query if isinstance(query, KeywordQuery) else KeywordQuery.parse(query)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise CollectionError(f"search k must be a positive integer, got {k!r}")
        with self._reading():
            words = self._store.words
            if not words.in_step():
                raise CollectionError(f"{self._path}: has no keyword index yet (made by an older mmret); run "
                                      f"`mmret migrate --collection {self._path}` or add to it once")
            allowed = self._compiled.mask(where, self._columns, "bad search filter") if where else None
            excluded = set(self._store.ids_of(id_list(exclude)).values()) if exclude else set()
            ranked = _first_kept(words.ranked, parsed, k, allowed, excluded)
            ids = [row_id for row_id, _ in ranked]
            snippets = words.snippets(parsed, ids) if ids else {}
            records = self._store.records_by_id(ids)
        return [Hit(records[row_id], score, WORDS, snippet_of(snippets.get(row_id, "")),
                    {WORDS: ChannelRank(rank, score)})
                for rank, (row_id, score) in enumerate(ranked, 1)]


def _first_kept(ranked, query: KeywordQuery, k: int, allowed: np.ndarray | None,
                excluded: set[int]) -> list[tuple[int, float]]:
    """The first k of the ranked matches that the filter allows and `excluded` does not name."""
    kept, offset, page = [], 0, max(_FIRST_PAGE, k)
    while len(kept) < k:
        found = ranked(query, page, offset)
        kept += [(row_id, score) for row_id, score in found if row_id not in excluded
                 and (allowed is None or (row_id < len(allowed) and allowed[row_id]))]
        if len(found) < page:
            break
        offset, page = offset + page, page * 4
    return kept[:k]
