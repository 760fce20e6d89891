"""Bootstrap intervals and paired tests on synthetic per-query scores whose answers are known."""
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mmret.eval.stats import (
    bootstrap_ci,
    paired_permutation_test,
    paired_test,
    paired_values,
)


def hits(rng, rate, n):
    return (rng.random(n) < rate).astype(float)


def test_identical_models_are_not_different():
    scores = hits(np.random.default_rng(0), 0.4, 300)
    result = paired_test(scores, scores.copy())
    assert (result.difference, result.difference_ci) == (0.0, (0.0, 0.0))
    assert result.p_permutation == 1.0 and result.p_t_test == 1.0 and result.p_wilcoxon == 1.0


def test_a_clearly_better_model_is_significant_by_every_test():
    rng = np.random.default_rng(1)
    baseline = hits(rng, 0.3, 400)
    better = np.where(rng.random(400) < 0.3, 1.0, baseline)  # fixes about 30% of the baseline's misses
    result = paired_test(baseline, better)
    assert result.difference > 0.15
    assert result.difference_ci[0] > 0
    assert result.p_permutation < 0.01 and result.p_t_test < 0.01 and result.p_wilcoxon < 0.01
    assert result.p_permutation >= 1 / 10001  # never 0


def test_under_the_null_the_permutation_test_rejects_at_about_its_level():
    rng = np.random.default_rng(2)
    rejected = 0
    runs = 200
    for seed in range(runs):
        a, b = hits(rng, 0.5, 80), hits(rng, 0.5, 80)  # two equally good, independent models
        rejected += paired_permutation_test(a, b, permutations=999, seed=seed) < 0.05
    assert 0.01 <= rejected / runs <= 0.10


def test_permutation_p_matches_scipys_exact_paired_permutation_test():
    rng = np.random.default_rng(3)
    a = rng.normal(0.5, 0.2, 12)
    b = a + rng.normal(0.08, 0.1, 12)
    exact = scipy_stats.permutation_test((a, b), lambda x, y: np.mean(y) - np.mean(x), permutation_type="samples",
                                         n_resamples=np.inf).pvalue  # all 4096 swaps
    assert paired_permutation_test(a, b, permutations=20000) == pytest.approx(exact, abs=0.01)


def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(4)
    true_rate, covered, runs = 0.3, 0, 300
    for seed in range(runs):
        low, high = bootstrap_ci(hits(rng, true_rate, 200), resamples=500, seed=seed)
        covered += low <= true_rate <= high
    assert 0.90 <= covered / runs <= 0.985


def test_bootstrap_interval_narrows_with_more_queries_and_holds_the_estimate():
    rng = np.random.default_rng(5)
    small, large = hits(rng, 0.5, 100), hits(rng, 0.5, 2500)
    (a, b), (c, d) = bootstrap_ci(small), bootstrap_ci(large)
    assert a <= small.mean() <= b and c <= large.mean() <= d
    assert (d - c) < (b - a) / 3  # width shrinks like 1 / sqrt(n): 5x more precise with 25x the queries


def test_median_summaries_are_supported():
    ranks = np.array([1, 1, 2, 3, 5, 8, 13, 21, 34, 55] * 10, dtype=float)
    low, high = bootstrap_ci(ranks, np.median)
    assert low <= np.median(ranks) <= high
    assert paired_permutation_test(ranks, ranks + 10, np.median, permutations=999) < 0.01


def test_nan_queries_are_left_out_and_pairs_need_both_values():
    a = np.array([1.0, np.nan, 0.0, 1.0])
    b = np.array([1.0, 1.0, np.nan, 0.0])
    assert [x.tolist() for x in paired_values(a, b)] == [[1.0, 1.0], [1.0, 0.0]]
    assert paired_test(a, b).n_queries == 2
    assert all(math.isnan(v) for v in bootstrap_ci(np.full(3, np.nan)))
    with pytest.raises(ValueError, match="same queries"):
        paired_values(a, b[:3])


def test_results_are_reproducible_for_a_seed():
    rng = np.random.default_rng(6)
    a, b = hits(rng, 0.4, 100), hits(rng, 0.45, 100)
    assert paired_test(a, b, seed=7) == paired_test(a, b, seed=7)
    assert bootstrap_ci(a, seed=1) == bootstrap_ci(a, seed=1)
