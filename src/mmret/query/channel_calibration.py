"""Calibrating a collection's hybrid search (`mmret calibrate --hybrid`, `Collection.calibrate_hybrid`): the
adaptive channel fusion's parameters fitted on example queries of that collection and stored with it, where every
later hybrid search reads them (`stored_channel_fusion`).

Each example is a query text and the file it should find (mmret.query.hybrid_examples); every item of that file
counts as found. Both channels are searched as a hybrid search for 10 results fetches them (the top 40 each,
before per-file collapsing), the vector channel without the keyword syntax, as in hybrid mode. An example whose
words are malformed as a keyword query (an unbalanced quote in a caption) is left out and counted.
"""
from __future__ import annotations

from ..encoders.base import Encoder
from ..errors import BadInput
from ..index.collection_base import CollectionBase
from .channel_fusion import ChannelFusion, store_channel_fusion
from .channel_fusion_fit import FusionExample, fit_channel_fusion, fusion_recall
from .modes import SEMANTIC, without_keyword_syntax
from .parts import QueryPart
from .request import Query
from .search import search

DEPTH = 40  # 4 x 10: what mmret.query.per_file fetches from each channel for 10 results


def calibrate_hybrid(store: CollectionBase, encoder: Encoder, examples: list[tuple[str, str]]) -> dict:
    """Fit the adaptive fusion on (query, file path) examples, store it with the collection, and say how each
    fusion ranks the examples (recall@1/5 and MRR, on the examples it was fitted on)."""
    if not store.has_words():
        raise BadInput(f"{store.path}: no keyword index to calibrate hybrid search with; run `mmret migrate` first")
    relevant = _items_by_path(store, {path for _, path in examples})
    missing = sorted({path for _, path in examples} - relevant.keys())
    if missing:
        raise BadInput(f"{len(missing)} example file(s) are not in {store.path}, e.g. {missing[0]}")
    found, malformed = [], 0
    for text, path in examples:
        try:
            word_hits = store.keyword_search(text, DEPTH)
        except BadInput:
            malformed += 1
            continue
        found.append(FusionExample([(h.item_id, h.score) for h in word_hits], _vector_hits(store, encoder, text),
                                   frozenset(relevant[path])))
    settings, _ = fit_channel_fusion(found)
    store_channel_fusion(store, settings)
    return {"examples": len(found), "left out (malformed keyword query)": malformed, "settings": settings.to_dict(),
            "semantic": fusion_recall(settings, [FusionExample([], e.vector_hits, e.relevant) for e in found]),
            "keyword": fusion_recall(settings, [FusionExample(e.word_hits, [], e.relevant) for e in found]),
            "defaults": fusion_recall(ChannelFusion(), found), "calibrated": fusion_recall(settings, found)}


def _items_by_path(store: CollectionBase, paths: set[str]) -> dict[str, list[str]]:
    items: dict[str, list[str]] = {}
    for record in store.records():
        if record.path in paths:
            items.setdefault(record.path, []).append(record.item_id)
    return items


def _vector_hits(store: CollectionBase, encoder: Encoder, text: str) -> list[tuple[str, float]]:
    plain = without_keyword_syntax(QueryPart("text", text)).value
    hits = search(store, encoder, Query(text=plain, k=DEPTH, per_file=False, mode=SEMANTIC))
    return [(hit.item_id, hit.score) for hit in hits]
