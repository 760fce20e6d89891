"""Hits as plain rows (JSON-ready), for the CLI's --json, the server and the API alike."""
from __future__ import annotations

from ..index.values import Hit


def result_rows(hits: list[Hit]) -> list[dict]:
    """Hits as plain rows (JSON-ready), ranked from 1."""
    return [{"rank": rank, "id": hit.record.item_id, "path": hit.record.path, "score": round(hit.score, 6),
             **({} if hit.relevance is None else {"relevance": round(hit.relevance, 4)}),
             "modality": hit.record.modality, "text": hit.record.text, "metadata": hit.record.metadata}
            for rank, hit in enumerate(hits, 1)]
