"""An evaluation kept whole for analysis: per task, the embedded queries and candidates, their vectors in the
task's space, the relevance and the ranking. `Evaluation.summary()` is the small JSON `mmret eval` prints;
reports, comparisons and explanations read the rest."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.datasets import RetrievalDataset
from ..data.items import Item
from .metrics import REPORTED_METRICS, Ranking, mean_metrics, per_query, rank_order

FAILURE_EXAMPLES = 5


@dataclass
class TaskRun:
    name: str
    space: str
    queries: list[Item]
    candidates: list[Item]
    query_vectors: np.ndarray  # (n_queries, d)
    candidate_vectors: np.ndarray  # (n_candidates, d)
    relevance: np.ndarray  # (n_queries, n_candidates) bool
    excludes_self: bool  # queries and candidates are one pool: each query is left out of its own results
    ranking: Ranking = field(init=False)

    def __post_init__(self) -> None:
        self.ranking = Ranking.from_scores(self.scores(), self.relevance, self.exclusions())

    def scores(self) -> np.ndarray:
        """(n_queries, n_candidates) inner products (cosines: the vectors are unit rows)."""
        return self.query_vectors @ self.candidate_vectors.T

    def exclusions(self) -> np.ndarray | None:
        return np.eye(len(self.queries), dtype=bool) if self.excludes_self else None

    def per_query(self, metric: str) -> np.ndarray:
        return per_query(self.ranking, metric)

    def top(self, query: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidate indices ranked 1..k for one query (as the metrics rank them) and their scores."""
        scores = self.query_vectors[query] @ self.candidate_vectors.T
        if self.excludes_self:
            scores[query] = -np.inf
        order = rank_order(scores[None, :])[0][: min(k, len(scores) - self.excludes_self)]
        return order, scores[order]


@dataclass
class Evaluation:
    dataset: str
    model: str
    n_items: dict[str, int]
    tasks: dict[str, TaskRun]
    failures: list[tuple[Item, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self, metrics: Sequence[str] = REPORTED_METRICS, with_per_query: bool = False) -> dict:
        """The JSON-ready result `evaluate` returns; `with_per_query` adds each query's id and metric values
        ({"per_query": {task: {"ids": [...], metric: [value or null (unanswerable)]}}})."""
        result = {
            "dataset": self.dataset,
            "model": self.model,
            "n_items": dict(self.n_items),
            "n_queries": {task: int(run.ranking.answerable.sum()) for task, run in self.tasks.items()},
            "unanswerable_queries": {task: int((~run.ranking.answerable).sum()) for task, run in self.tasks.items()},
            "spaces": {task: run.space for task, run in self.tasks.items()},
            "failures": {"count": len(self.failures),
                         "examples": [{"id": item.id, "reason": reason}
                                      for item, reason in self.failures[:FAILURE_EXAMPLES]]},
            "seconds": round(self.seconds, 2),
            "results": {task: mean_metrics(run.ranking, metrics) for task, run in self.tasks.items()},
        }
        if with_per_query:
            result["per_query"] = {task: {"ids": [q.id for q in run.queries],
                                          **{m: _json_values(run.per_query(m)) for m in metrics}}
                                   for task, run in self.tasks.items()}
        return result


def evaluation_from_vectors(dataset: RetrievalDataset, model: str, vectors: Mapping[str, Mapping[str, np.ndarray]],
                            spaces: Mapping[str, str], embedded: Mapping[str, np.ndarray] | None = None,
                            failures: Sequence[tuple[Item, str]] = (), seconds: float = 0.0) -> Evaluation:
    """An Evaluation from precomputed vectors: `vectors[pool][space]` is (len(pool), d) in pool order,
    `spaces[task]` names the space each task compares in, `embedded[pool]` (default: all) marks the rows that
    were embedded; the rest (failed items) are left out of every task."""
    embedded = embedded or {pool: np.ones(len(items), dtype=bool) for pool, items in dataset.pools.items()}
    tasks = {}
    for task in dataset.task_list:
        space = spaces[task.name]
        queries, candidates = embedded[task.queries], embedded[task.candidates]
        tasks[task.name] = TaskRun(
            task.name, space,
            [item for item, kept in zip(dataset.pools[task.queries], queries) if kept],
            [item for item, kept in zip(dataset.pools[task.candidates], candidates) if kept],
            np.asarray(vectors[task.queries][space][queries], dtype=np.float32),
            np.asarray(vectors[task.candidates][space][candidates], dtype=np.float32),
            task.relevance[queries][:, candidates], task.excludes_self)
    return Evaluation(dataset.name, model, {pool: int(done.sum()) for pool, done in embedded.items()}, tasks,
                      list(failures), seconds)


def _json_values(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
