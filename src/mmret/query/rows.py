"""Hits as plain rows (JSON-ready), for the CLI's --json, the server and the API alike."""
from __future__ import annotations

from ..index.values import VECTORS, Hit


def result_rows(hits: list[Hit]) -> list[dict]:
    """Hits as plain rows (JSON-ready), ranked from 1, each saying which channel found it (words, vectors or both)
    with its rank and score there, and the snippet of its matched words if the keyword index found it."""
    return [{"rank": rank, "id": hit.record.item_id, "path": hit.record.path, "score": round(hit.score, 6),
             **({} if hit.relevance is None else {"relevance": round(hit.relevance, 4)}),
             "modality": hit.record.modality, "text": hit.record.text, "metadata": hit.record.metadata,
             **_channels(hit, rank)} for rank, hit in enumerate(hits, 1)]


def _channels(hit: Hit, rank: int) -> dict:
    channels = hit.channels or {VECTORS: None}  # a hit of a search made without modes: its own rank
    shown = {name: {"rank": found.rank if found else rank, "score": round(found.score if found else hit.score, 6)}
             for name, found in channels.items()}
    snippet = None if hit.snippet is None else {"text": hit.snippet.text, "marks": [list(m) for m in hit.snippet.marks]}
    return {"channel": "both" if len(shown) == 2 else next(iter(shown)), "channels": shown, "snippet": snippet}


