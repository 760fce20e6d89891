"""Search modes: `semantic` (vectors), `keyword` (the keyword index, BM25) and `hybrid` (both lists fused by
channel_fusion.py). The default is hybrid for a text query on a collection with a keyword index, else semantic.

The keyword channel reads the query's positive text parts with their keyword syntax ("phrases", prefix*, -words:
index/keyword_query.py); in hybrid mode the vector channel gets the same texts with that syntax taken out.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..errors import BadInput
from ..index.collection_base import CollectionBase
from ..index.values import VECTORS, WORDS, ChannelRank, Hit
from .channel_fusion import ChannelFusion, fuse_channels
from .parts import QueryPart

SEMANTIC, KEYWORD, HYBRID = "semantic", "keyword", "hybrid"
MODES = (HYBRID, SEMANTIC, KEYWORD)
_EXCLUSION = re.compile(r'(^|\s)-("[^"]*"|\S+)')


def check_mode(mode: str | None) -> None:
    if mode is not None and mode not in MODES:
        raise BadInput(f"unknown search mode {mode!r}; choose from {', '.join(MODES)}")


def chosen_mode(store: CollectionBase, mode: str | None, parts: list[QueryPart]) -> str:
    """The mode asked for, or the default: hybrid where there is text to match and a keyword index, else semantic.
    Keyword and hybrid need a text part (BadInput otherwise)."""
    has_text = bool(keyword_text(parts))
    if mode is None:
        return HYBRID if has_text and store.has_words() else SEMANTIC
    if mode != SEMANTIC and not has_text:
        raise BadInput(f"--mode {mode} needs a text query (the words to look for)")
    if mode != SEMANTIC and not store.has_words():
        store.keyword_search(keyword_text(parts), 1)  # raises the backend's reason before anything is embedded
    return mode


def keyword_text(parts: list[QueryPart]) -> str:
    """The words the keyword channel looks for: the query's positive text parts."""
    return " ".join(str(part.value) for part in parts if part.modality == "text" and not part.negative).strip()


def without_keyword_syntax(part: QueryPart) -> QueryPart:
    """A text part as the vector channel reads it in hybrid mode: no -exclusions, quotes or prefix stars."""
    if part.modality != "text":
        return part
    plain = _EXCLUSION.sub(" ", str(part.value)).replace('"', " ")
    plain = " ".join(word.rstrip("*") for word in plain.split())
    return replace(part, value=plain or str(part.value))


def fused_hits(word_hits: list[Hit], vector_hits: list[Hit], settings: ChannelFusion, k: int) -> list[Hit]:
    """The two channels' lists fused into one, each hit with its rank and score in each channel that found it; the
    vector list as it is (cosine scores) when no item's words match."""
    if not word_hits:
        return with_vector_ranks(vector_hits)
    found = {hit.item_id: hit for hit in vector_hits} | {hit.item_id: hit for hit in word_hits}
    snippets = {hit.item_id: hit.snippet for hit in word_hits}
    spaces = {hit.item_id: hit.space for hit in vector_hits}
    fused = fuse_channels([(h.item_id, h.score) for h in word_hits], [(h.item_id, h.score) for h in vector_hits],
                          settings, k)
    hits = []
    for one in fused:
        channels = {}
        if one.word_rank is not None:
            channels[WORDS] = ChannelRank(one.word_rank, one.word_score)
        if one.vector_rank is not None:
            channels[VECTORS] = ChannelRank(one.vector_rank, one.vector_score)
        hits.append(Hit(found[one.item_id].record, one.score, spaces.get(one.item_id, WORDS),
                        snippets.get(one.item_id), channels))
    return hits


def with_vector_ranks(hits: list[Hit]) -> list[Hit]:
    """Vector hits marked with their rank and score in the vector channel."""
    for rank, hit in enumerate(hits, 1):
        hit.channels = {VECTORS: ChannelRank(rank, hit.score)}
    return hits
