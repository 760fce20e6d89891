"""The error-analysis gallery: the worst queries of a task first, each with its top results marked right or
wrong, the best-ranked relevant item when it fell below them, and explanations of the matches when an encoder
is given and the task pairs text with images."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.items import Item
from ..encoders.base import Encoder
from .evaluation import TaskRun
from .explain import Explanation, explain

SIZE = 20
TOP_K = 5


@dataclass
class Shown:
    """A candidate as the gallery shows it."""

    item: Item
    rank: int  # 1 = top
    score: float
    relevant: bool
    explanation: Explanation | None = None


@dataclass
class GalleryQuery:
    item: Item
    average_precision: float
    first_relevant_rank: int
    results: list[Shown]
    first_relevant: Shown | None  # the best-ranked relevant candidate, when it is below the results shown


def worst_first(run: TaskRun) -> np.ndarray:
    """Answerable query indices ordered worst first: lowest AP, then the latest first relevant item, then index."""
    average_precision, first_rank = run.per_query("mAP"), run.per_query("MedR")
    answerable = np.flatnonzero(run.ranking.answerable)
    order = np.lexsort((answerable, -first_rank[answerable], average_precision[answerable]))
    return answerable[order]


def gallery(run: TaskRun, size: int = SIZE, k: int = TOP_K, encoder: Encoder | None = None,
            explain_top: int = 1, heatmap: bool | None = None) -> list[GalleryQuery]:
    """The `size` worst queries of a task; with an encoder, the top `explain_top` results and the first relevant
    item below them are explained (text<->image tasks only; `heatmap` as in `explain`)."""
    explainable = encoder is not None and run.name in ("text->image", "image->text")
    average_precision, first_ranks = run.per_query("mAP"), run.per_query("MedR")
    entries = []
    for query in worst_first(run)[:size]:
        first_rank = int(first_ranks[query])
        top, scores = run.top(query, max(k, first_rank))
        relevant = run.relevance[query, top]
        shown = [Shown(run.candidates[c], r + 1, float(s), bool(hit))
                 for r, (c, s, hit) in enumerate(zip(top, scores, relevant))]
        entry = GalleryQuery(run.queries[query], float(average_precision[query]), first_rank, shown[:k],
                             shown[first_rank - 1] if first_rank > k else None)
        if explainable:
            _explain(entry, run.name, encoder, explain_top, heatmap)
        entries.append(entry)
    return entries


def _explain(entry: GalleryQuery, task: str, encoder: Encoder, explain_top: int, heatmap: bool | None) -> None:
    wanted = entry.results[:explain_top] + ([entry.first_relevant] if entry.first_relevant else [])
    for shown in wanted:
        text, image = (entry.item, shown.item) if task == "text->image" else (shown.item, entry.item)
        shown.explanation = explain(encoder, text.text, image.path, heatmap)
