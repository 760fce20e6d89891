"""The runner behind `mmret eval`: embed a benchmark's images and texts, score every query against every
candidate by exact inner product, and report the retrieval metrics of each task.

Text<->image tasks compare vectors in the shared space. A same-modality task (image->image) uses the
modality's own space when the encoder has one (its image tower's features), else the shared space; the
query itself is excluded from its own results. Images that fail to decode are reported and left out: a
query whose only relevant image failed has no relevant candidate, so it is counted as unanswerable.
"""
from __future__ import annotations

import time
from itertools import chain

import numpy as np

from ..data.datasets import RetrievalDataset
from ..embed import embed_items
from ..encoders.base import SHARED, Encoder
from .metrics import Ranking, mean_metrics

REPORTED_METRICS = ("R@1", "R@5", "R@10", "P@10", "mAP", "R-P", "MRR", "nDCG@10")
FAILURE_EXAMPLES = 5


def evaluate(encoder: Encoder, dataset: RetrievalDataset, batch_size: int = 32, workers: int | None = None,
             progress: bool = True) -> dict:
    """Metrics per task as a JSON-ready dict (see `format_table` for a readable view)."""
    _check_modalities(encoder, dataset)
    started = time.perf_counter()
    vectors, embedded, failures = _embed_dataset(encoder, dataset, batch_size, workers, progress)
    if not embedded["image"].any():
        raise ValueError(f"{dataset.name}: no image could be decoded (first: {failures[0][0].path}: {failures[0][1]})")
    spaces = {task: _space_for(encoder, task) for task in dataset.tasks}
    rankings = {task: _ranking(task, dataset, vectors, embedded, spaces[task]) for task in dataset.tasks}
    return {
        "dataset": dataset.name,
        "model": encoder.model_id,
        "n_items": {modality: int(done.sum()) for modality, done in embedded.items()},
        "n_queries": {task: int(r.answerable.sum()) for task, r in rankings.items()},
        "unanswerable_queries": {task: int((~r.answerable).sum()) for task, r in rankings.items()},
        "spaces": spaces,
        "failures": {"count": len(failures),
                     "examples": [{"id": item.id, "reason": reason} for item, reason in failures[:FAILURE_EXAMPLES]]},
        "seconds": round(time.perf_counter() - started, 2),
        "results": {task: mean_metrics(r, REPORTED_METRICS) for task, r in rankings.items()},
    }


def format_table(result: dict) -> str:
    """A plain-text table of an `evaluate` result: one row per task, one column per metric."""
    metrics = list(next(iter(result["results"].values()), {}))
    header = f"{'task':<14}{'space':<8}{'queries':>8}" + "".join(f"{m:>9}" for m in metrics)
    lines = [f"{result['dataset']} | {result['model']} | "
             + ", ".join(f"{n} {modality}s" for modality, n in result["n_items"].items())
             + f" | {result['seconds']} s", header]
    for task, values in result["results"].items():
        lines.append(f"{task:<14}{result['spaces'][task]:<8}{result['n_queries'][task]:>8}"
                     + "".join(f"{values[m]:>9.3f}" for m in metrics))
    unanswerable = {task: n for task, n in result["unanswerable_queries"].items() if n}
    if unanswerable:
        lines.append("left out, no relevant item: " + ", ".join(f"{t} {n}" for t, n in unanswerable.items()))
    if result["failures"]["count"]:
        examples = "; ".join(f"{f['id']}: {f['reason']}" for f in result["failures"]["examples"])
        lines.append(f"excluded, could not be embedded: {result['failures']['count']} ({examples})")
    return "\n".join(lines)


def _check_modalities(encoder: Encoder, dataset: RetrievalDataset) -> None:
    needed = {modality for task in dataset.tasks for modality in task.split("->")}
    missing = needed - set(encoder.modalities)
    if missing:
        raise ValueError(f"{dataset.name} needs {sorted(missing)}, which {encoder.model_id} does not embed")


def _embed_dataset(encoder: Encoder, dataset: RetrievalDataset, batch_size: int, workers: int | None,
                   progress: bool) -> tuple[dict, dict, list]:
    """Vectors {modality: {space: (n, d)}} in dataset order, which rows were embedded, and the failures."""
    items = {"image": dataset.images, "text": dataset.texts}
    row_of = {(modality, item.id): row for modality, group in items.items() for row, item in enumerate(group)}
    vectors = {modality: {space: np.zeros((len(group), encoder.spaces[space]), dtype=np.float32)
                          for space in encoder.spaces_for(modality)} for modality, group in items.items()}
    embedded = {modality: np.zeros(len(group), dtype=bool) for modality, group in items.items()}
    failures = []
    for batch in embed_items(encoder, chain(dataset.images, dataset.texts), batch_size, workers, progress,
                             total=len(dataset.images) + len(dataset.texts)):
        failures.extend(batch.failures)
        rows = [row_of[(batch.modality, item.id)] for item in batch.items]
        if not rows:
            continue
        for space, matrix in vectors[batch.modality].items():
            matrix[rows] = batch.vectors[space]
        embedded[batch.modality][rows] = True
    return vectors, embedded, failures


def _space_for(encoder: Encoder, task: str) -> str:
    query, candidate = task.split("->")
    own = [space for space in encoder.spaces_for(query) if space != SHARED]
    return own[0] if query == candidate and own else SHARED


def _ranking(task: str, dataset: RetrievalDataset, vectors: dict, embedded: dict, space: str) -> Ranking:
    query, candidate = task.split("->")
    queries, candidates = embedded[query], embedded[candidate]
    scores = vectors[query][space][queries] @ vectors[candidate][space][candidates].T
    relevance = dataset.relevance(task)[queries][:, candidates]
    exclude = np.eye(len(scores), dtype=bool) if query == candidate else None
    return Ranking.from_scores(scores, relevance, exclude)
