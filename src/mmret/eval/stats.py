"""Uncertainty over queries: how much a metric would move on other queries drawn like these, and whether one
model beats another on the same queries by more than chance.

- `bootstrap_ci`: the percentile bootstrap (Efron & Tibshirani 1993): resample the queries with replacement,
  recompute the metric's summary (the mean; the median for MedR), take the middle `confidence` of the results.
- `paired_permutation_test`: under "no difference", each query's two values are exchangeable, so swapping them
  at random gives the null distribution of the difference of summaries; two-sided p = (1 + #{|d*| >= |d|}) /
  (1 + permutations), never 0 (Phipson & Smyth 2010). Identical models give p = 1.
- `paired_test` adds the bootstrap CI of the difference and, as cross-checks, scipy's paired t-test and
  Wilcoxon signed-rank test (defined as p = 1 when every difference is 0).

NaN values (unanswerable queries) are left out; a paired test keeps the queries defined for both models.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

from ..errors import BadInput

Summary = Callable[..., np.ndarray]  # np.mean or np.median: takes an array and an axis
RESAMPLES = 2000
PERMUTATIONS = 10000
CONFIDENCE = 0.95
_CHUNK = 256  # resamples drawn at once: memory stays near _CHUNK x n_queries floats


@dataclass(frozen=True)
class PairedTest:
    n_queries: int  # queries defined for both models
    difference: float  # summary(other) - summary(baseline)
    difference_ci: tuple[float, float]
    p_permutation: float
    p_t_test: float
    p_wilcoxon: float

    def to_dict(self) -> dict:
        return {key: _json_number(value) for key, value in asdict(self).items()}


def bootstrap_ci(values: np.ndarray, summary: Summary = np.mean, confidence: float = CONFIDENCE,
                 resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of summary(values) over queries; (nan, nan) with no defined value."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    estimates = _in_chunks(resamples, lambda size: summary(values[rng.integers(0, values.size, (size, values.size))],
                                                           axis=1))
    return _percentiles(estimates, confidence)


def paired_permutation_test(baseline: np.ndarray, other: np.ndarray, summary: Summary = np.mean,
                            permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p-value of "the two models' summaries differ" from random swaps within query pairs."""
    baseline, other = paired_values(baseline, other)
    if baseline.size == 0:
        return float("nan")
    observed = abs(float(summary(other) - summary(baseline)))
    rng = np.random.default_rng(seed)

    def swapped_differences(size: int) -> np.ndarray:
        swap = rng.random((size, baseline.size)) < 0.5
        return summary(np.where(swap, baseline, other), axis=1) - summary(np.where(swap, other, baseline), axis=1)

    extreme = (np.abs(_in_chunks(permutations, swapped_differences)) >= observed - 1e-12).sum()
    return float((1 + extreme) / (1 + permutations))


def paired_test(baseline: np.ndarray, other: np.ndarray, summary: Summary = np.mean, confidence: float = CONFIDENCE,
                resamples: int = RESAMPLES, permutations: int = PERMUTATIONS, seed: int = 0) -> PairedTest:
    a, b = paired_values(baseline, other)
    nan = float("nan")
    if a.size == 0:
        return PairedTest(0, nan, (nan, nan), nan, nan, nan)
    rng = np.random.default_rng(seed)

    def resampled_differences(size: int) -> np.ndarray:
        rows = rng.integers(0, a.size, (size, a.size))
        return summary(b[rows], axis=1) - summary(a[rows], axis=1)

    return PairedTest(
        n_queries=int(a.size),
        difference=float(summary(b) - summary(a)),
        difference_ci=_percentiles(_in_chunks(resamples, resampled_differences), confidence),
        p_permutation=paired_permutation_test(a, b, summary, permutations, seed),
        p_t_test=_scipy_p(scipy_stats.ttest_rel, a, b),
        p_wilcoxon=_scipy_p(scipy_stats.wilcoxon, a, b),
    )


def paired_values(baseline: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two models' values on the queries defined (not NaN) for both."""
    a, b = np.asarray(baseline, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        raise BadInput(f"paired values need the same queries: shapes {a.shape} and {b.shape}")
    both = ~(np.isnan(a) | np.isnan(b))
    return a[both], b[both]


def _scipy_p(test: Callable, a: np.ndarray, b: np.ndarray) -> float:
    if np.all(a == b):
        return 1.0
    return float(test(a, b).pvalue)


def _in_chunks(total: int, draw: Callable[[int], np.ndarray]) -> np.ndarray:
    return np.concatenate([draw(min(_CHUNK, total - start)) for start in range(0, total, _CHUNK)])


def _percentiles(estimates: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0 < confidence < 1:
        raise BadInput(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2
    low, high = np.quantile(estimates, [tail, 1 - tail])
    return float(low), float(high)


def _json_number(value: object) -> object:
    if isinstance(value, tuple):
        return [_json_number(v) for v in value]
    return None if isinstance(value, float) and not np.isfinite(value) else value
