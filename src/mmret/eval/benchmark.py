"""The runner behind `mmret eval`: embed a benchmark's pools of items, score every query against every
candidate by exact inner product, and report the retrieval metrics of each task.

Cross-modal tasks compare vectors in the shared space. A same-modality task (image->image, audio->audio) uses
the modality's own space when the encoder has one (the offline pack's image tower features), else the shared
space; when queries and candidates are one pool, the query itself is left out of its own results. Items that
fail to decode are reported and left out: a query whose only relevant item failed has no relevant candidate,
so it is counted as unanswerable.
"""
from __future__ import annotations

import time

import numpy as np

from ..data.datasets import RetrievalDataset
from ..encoders.base import SHARED, Encoder
from ..errors import BadInput
from ..media.batches import embed_items
from .evaluation import FAILURE_EXAMPLES, Evaluation, evaluation_from_vectors
from .metrics import REPORTED_METRICS

__all__ = ["FAILURE_EXAMPLES", "REPORTED_METRICS", "evaluate", "evaluate_in_detail", "format_table"]


def evaluate(encoder: Encoder, dataset: RetrievalDataset, batch_size: int = 32, workers: int | None = None,
             progress: bool = True, per_query: bool = False) -> dict:
    """Metrics per task as a JSON-ready dict (see `format_table` for a readable view); `per_query` adds each
    query's metric values."""
    return evaluate_in_detail(encoder, dataset, batch_size, workers, progress).summary(with_per_query=per_query)


def evaluate_in_detail(encoder: Encoder, dataset: RetrievalDataset, batch_size: int = 32,
                       workers: int | None = None, progress: bool = True) -> Evaluation:
    """The whole evaluation (vectors, rankings, per-query values) for reports, comparisons and analysis."""
    _check_modalities(encoder, dataset)
    started = time.perf_counter()
    vectors, embedded, failures = _embed_dataset(encoder, dataset, batch_size, workers, progress)
    for pool, done in embedded.items():
        modality = dataset.modality(pool)
        if modality != "text" and done.size and not done.any():
            item, reason = next((item, reason) for item, reason in failures if item.modality == modality)
            raise BadInput(f"{dataset.name}: no {modality} could be decoded (first: {item.path}: {reason})")
    spaces = {task.name: _space_for(encoder, dataset.modality(task.queries), dataset.modality(task.candidates))
              for task in dataset.task_list}
    evaluation = evaluation_from_vectors(dataset, encoder.model_id, vectors, spaces, embedded, failures)
    evaluation.seconds = time.perf_counter() - started
    return evaluation


def format_table(result: dict) -> str:
    """A plain-text table of an `evaluate` result: one row per task, one column per metric."""
    metrics = list(next(iter(result["results"].values()), {}))
    header = f"{'task':<14}{'space':<8}{'queries':>8}" + "".join(f"{m:>9}" for m in metrics)
    lines = [f"{result['dataset']} | {result['model']} | "
             + ", ".join(f"{n} {pool}s" for pool, n in result["n_items"].items())
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
    needed = {dataset.modality(pool) for task in dataset.task_list for pool in (task.queries, task.candidates)}
    missing = needed - set(encoder.modalities)
    if missing:
        raise BadInput(f"{dataset.name} needs {sorted(missing)}, which {encoder.model_id} does not embed")


def _embed_dataset(encoder: Encoder, dataset: RetrievalDataset, batch_size: int, workers: int | None,
                   progress: bool) -> tuple[dict, dict, list]:
    """Vectors {pool: {space: (n, d)}} in pool order, which rows were embedded, and the failures."""
    vectors, embedded, failures = {}, {}, []
    for pool, items in dataset.pools.items():
        row_of = {item.id: row for row, item in enumerate(items)}
        spaces = encoder.spaces_for(dataset.modality(pool))
        vectors[pool] = {space: np.zeros((len(items), encoder.spaces[space]), dtype=np.float32) for space in spaces}
        embedded[pool] = np.zeros(len(items), dtype=bool)
        for batch in embed_items(encoder, items, batch_size, workers, progress, total=len(items)):
            failures.extend(batch.failures)
            rows = [row_of[item.id] for item in batch.items]
            if rows:
                for space, matrix in vectors[pool].items():
                    matrix[rows] = batch.vectors[space]
                embedded[pool][rows] = True
    return vectors, embedded, failures


def _space_for(encoder: Encoder, query: str, candidate: str) -> str:
    own = [space for space in encoder.spaces_for(query) if space != SHARED]
    return own[0] if query == candidate and own else SHARED
