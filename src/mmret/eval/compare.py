"""Several models (or configurations) on one benchmark: one table with 95% bootstrap confidence intervals and
paired significance tests of every model against the first (the baseline).

Models are compared on the queries every one of them answered (normally all: the same data set decodes the
same way). Each metric's p-value is its own test; with many metrics and models some small p-values arise by
chance, so read them with that in mind (no correction is applied).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.datasets import RetrievalDataset
from ..encoders.base import Encoder
from ..errors import BadInput
from .benchmark import evaluate_in_detail
from .evaluation import Evaluation, TaskRun
from .metrics import LOWER_IS_BETTER, REPORTED_METRICS, summarise, summary_function
from .stats import CONFIDENCE, PERMUTATIONS, RESAMPLES, bootstrap_ci, paired_test

SIGNIFICANCE = 0.05


def compare(models: Sequence[Encoder | str], dataset: RetrievalDataset, metrics: Sequence[str] = REPORTED_METRICS,
            labels: Sequence[str] | None = None, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
            permutations: int = PERMUTATIONS, seed: int = 0, batch_size: int = 32, workers: int | None = None,
            progress: bool = True, precision: str = "auto") -> dict:
    """Evaluate each model (an Encoder, or a name `load_encoder` knows) on `dataset` and compare them."""
    evaluations = evaluate_models(models, dataset, batch_size, workers, progress, precision)
    labels = labels or [model if isinstance(model, str) else model.model_id for model in models]
    return compare_evaluations(evaluations, metrics, labels, confidence, resamples, permutations, seed)


def evaluate_models(models: Sequence[Encoder | str], dataset: RetrievalDataset, batch_size: int = 32,
                    workers: int | None = None, progress: bool = True, precision: str = "auto") -> list[Evaluation]:
    """One Evaluation per model; models given by name (trained directories too, once mmret.training is imported)
    are loaded one at a time."""
    from ..encoders.loader import load_encoder

    return [evaluate_in_detail(load_encoder(model, precision) if isinstance(model, str) else model, dataset,
                               batch_size, workers, progress) for model in models]


def compare_evaluations(evaluations: Sequence[Evaluation], metrics: Sequence[str] = REPORTED_METRICS,
                        labels: Sequence[str] | None = None, confidence: float = CONFIDENCE,
                        resamples: int = RESAMPLES, permutations: int = PERMUTATIONS, seed: int = 0) -> dict:
    """The comparison as JSON-ready data (see `format_comparison`); the first evaluation is the baseline."""
    if not evaluations:
        raise BadInput("compare needs at least one evaluation")
    labels = _unique(labels or [e.model for e in evaluations])
    if len(labels) != len(evaluations):
        raise BadInput(f"{len(labels)} labels for {len(evaluations)} models")
    tasks = [task for task in evaluations[0].tasks if all(task in e.tasks for e in evaluations)]
    return {
        "dataset": evaluations[0].dataset,
        "models": labels,
        "model_ids": [e.model for e in evaluations],
        "baseline": labels[0],
        "confidence": confidence,
        "resamples": resamples,
        "permutations": permutations,
        "tasks": {task: _compare_task(task, evaluations, metrics, labels, confidence, resamples, permutations, seed)
                  for task in tasks},
        "evaluations": [e.summary(metrics) for e in evaluations],
    }


def format_comparison(comparison: dict) -> str:
    """One plain-text table: per task, a row per metric, a column (value [CI]) per model and, for each model
    after the baseline, the permutation-test p-value of its difference from the baseline."""
    labels = comparison["models"]
    width = max(24, *(len(label) + 2 for label in labels))
    lines = [(f"{comparison['dataset']} | {round(comparison['confidence'] * 100)}% CI: bootstrap over queries "
              f"({comparison['resamples']} resamples) | p: paired permutation test vs {comparison['baseline']} "
              f"({comparison['permutations']} permutations); * p < {SIGNIFICANCE}")]
    for task, block in comparison["tasks"].items():
        lines += ["", f"{task} ({block['n_queries']} queries)",
                  f"{'metric':<8}" + "".join(f"{label:<{width}}" + ("" if i == 0 else f"{'p':<9}")
                                             for i, label in enumerate(labels))]
        for metric, rows in block["metrics"].items():
            cells = []
            for row in rows:
                cells.append(f"{_with_ci(row):<{width}}")
                if row["vs_baseline"] is not None:
                    cells.append(f"{_p_text(row['vs_baseline']['p_permutation']):<9}")
            lines.append(f"{metric:<8}" + "".join(cells))
    return "\n".join(lines).rstrip()


def _compare_task(task: str, evaluations: Sequence[Evaluation], metrics: Sequence[str], labels: Sequence[str],
                  confidence: float, resamples: int, permutations: int, seed: int) -> dict:
    runs = [e.tasks[task] for e in evaluations]
    common = _common_queries([run.queries for run in runs])
    answered = np.all([_aligned(run, run.ranking.answerable, common) for run in runs], axis=0)
    blocks = {}
    for metric in metrics:
        summary = summary_function(metric)
        values = [_aligned(run, run.per_query(metric), common)[answered] for run in runs]
        blocks[metric] = [{
            "model": label,
            "value": _number(summarise(metric, mine)),
            "ci": [_number(v) for v in bootstrap_ci(mine, summary, confidence, resamples, seed)],
            "vs_baseline": None if i == 0 else paired_test(values[0], mine, summary, confidence, resamples,
                                                           permutations, seed).to_dict(),
        } for i, (label, mine) in enumerate(zip(labels, values))]
    return {"n_queries": int(answered.sum()), "lower_is_better": [m for m in metrics if m in LOWER_IS_BETTER],
            "metrics": blocks}


def _common_queries(query_lists: Sequence[Sequence]) -> list[str]:
    shared = set.intersection(*({q.id for q in queries} for queries in query_lists))
    return [q.id for q in query_lists[0] if q.id in shared]


def _aligned(run: TaskRun, per_query: np.ndarray, ids: list[str]) -> np.ndarray:
    """A run's per-query array in the order of `ids`."""
    row = {q.id: i for i, q in enumerate(run.queries)}
    return per_query[[row[i] for i in ids]]


def _unique(labels: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


def _with_ci(row: dict) -> str:
    value, (low, high) = row["value"], row["ci"]
    if value is None:
        return "n/a"
    digits = 1 if abs(value) >= 10 else 3
    interval = f" [{low:.{digits}f}, {high:.{digits}f}]" if low is not None and high is not None else ""
    return f"{value:.{digits}f}{interval}"


def _p_text(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.4f}{'*' if p < SIGNIFICANCE else ''}"


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
