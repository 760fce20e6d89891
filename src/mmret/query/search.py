"""One search path for the API, the CLI and the server: query parts -> one query vector -> index search ->
per-file collapsing -> result rows.

A query has a text, an image file, an audio file, a stored item, or several parts of each kind with weights,
negative parts included (mmret.query.parts); a stored item ("more like this") is its stored vectors (mmret.query.stored_parts),
and it is left out of the results with every record of its file. Its parts are fused into one query vector (through
the collection's fusion when it was built with one), or, with a decision-level `fusion` (rrf, combsum, combmnz,
combprod), searched one list per part and space and the lists fused. A space whose paths (a video's shots, sound
windows, speech) have a fitted fusion stored with the collection (mmret.query.path_fusion) is searched path by path and
the hits merged by fused score.
By default a file appears once in the results: a photo as itself, an audio or video file as its best-scoring
segment. A text query is also matched against the collection's keyword index in the `keyword` and `hybrid` modes
(mmret.query.modes), its list fused with the vectors' by mmret.query.channel_fusion.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..encoders.base import Encoder
from ..fusion import fuse_runs
from ..index.collection_base import CollectionBase
from ..index.values import Hit, readable
from .channel_fusion import stored_channel_fusion
from .hidden_copies import hidden_copies
from .modes import (
    HYBRID,
    KEYWORD,
    SEMANTIC,
    chosen_mode,
    fused_hits,
    keyword_text,
    with_vector_ranks,
    without_keyword_syntax,
)
from .path_fusion import search_fused_paths, stored_path_fusion
from .per_file import collapsed
from .relevance import rate_hits
from .request import Query
from .spaces import list_spaces
from .stored_parts import StoredParts
from .vectors import part_vector, query_vector


def search(store: CollectionBase, encoder: Encoder | None, query: Query) -> list[Hit]:
    """The query's k best items in `store`, whose vectors `encoder` made (None for a query of stored items
    only, which needs no model: what it would tell, the collection records), in the query's mode; copies hidden
    by `mmret duplicates --exclude-from-search` left out."""
    mode = chosen_mode(store, query.mode, query.all_parts)
    stored = StoredParts(store, query.all_parts) if mode != KEYWORD else None
    left_out = stored.left_out if stored is not None else []
    query = replace(query, exclude=[*(query.exclude or []), *left_out, *hidden_copies(store)] or None)
    words = keyword_text(query.all_parts)

    def word_top(fetch: int) -> list[Hit]:
        return store.keyword_search(words, fetch, where=query.where, exclude=query.exclude)

    if mode == KEYWORD:
        return rate_hits(store, query, collapsed(word_top, query.k, query.per_file), None)
    if mode == HYBRID:
        query = replace(query, text=None, image=None, audio=None, like=None,
                        parts=tuple(without_keyword_syntax(part) for part in query.all_parts))
    vector_top, vector = _vector_top(store, encoder, query, stored)
    if mode == SEMANTIC:
        hits = collapsed(lambda fetch: with_vector_ranks(vector_top(fetch)), query.k, query.per_file)
    else:
        settings = stored_channel_fusion(store)
        hits = collapsed(lambda fetch: fused_hits(word_top(fetch), vector_top(fetch), settings, fetch),
                         query.k, query.per_file)
    return rate_hits(store, query, hits, vector)


def _vector_top(store: CollectionBase, encoder: Encoder | None, query: Query,
                stored: StoredParts) -> tuple[Callable[[int], list[Hit]], np.ndarray | None]:
    """fetch -> the vector channel's best `fetch` hits (before per-file collapsing), and the one query vector
    searched (None for fused lists or paths: their scores are not one cosine, so relevance is not calibrated)."""
    if query.fusion is not None:
        return _search_lists(store, encoder, query, stored), None
    vector, space = query_vector(encoder, query, stored)

    def search_space(fetch: int, where: dict | None) -> list[Hit]:
        return readable(store.search(space, vector[None, :], fetch, where=where, exclude=query.exclude,
                                     params=query.params)[0])

    paths = stored_path_fusion(store, space)
    if paths is None:
        return (lambda fetch: search_space(fetch, query.where)), vector
    return (lambda fetch: search_fused_paths(lambda where: search_space(fetch, where), paths, vector,
                                             query.where)[:fetch]), None


def _search_lists(store: CollectionBase, encoder: Encoder | None, query: Query,
                  stored: StoredParts) -> Callable[[int], list[Hit]]:
    """Decision-level fusion: one ranked list per (part, space), the part's weight on its lists (negative parts
    push their neighbours down), fused by query.fusion. The spaces: query.space if given, else a fusion
    collection's part spaces (those a stored item has vectors in), else each part's own default space."""
    lists = [(part, space) for part in query.all_parts for space in list_spaces(encoder, part, query.space, stored)]
    vectors = [part_vector(encoder, part, space, stored) for part, space in lists]

    def fused(fetch: int) -> list[Hit]:
        records, runs = {}, []
        for (part, space), vector in zip(lists, vectors):
            hits = readable(store.search(space, vector[None, :], fetch, where=query.where, exclude=query.exclude,
                                         params=query.params)[0])
            records.update((hit.item_id, hit.record) for hit in hits)
            runs.append({hit.item_id: hit.score for hit in hits})
        ranked = fuse_runs(runs, query.fusion, [part.weight for part, _ in lists], query.norm)
        return [Hit(records[item], score, query.fusion) for item, score in ranked[:fetch]]

    return fused
