import numpy as np

from mmret.eval.curves import interpolated_precision, recall_curve
from mmret.eval.metrics import Ranking, mean_metrics


def random_ranking(seed=0, queries=30, candidates=50):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((queries, candidates))
    relevant = [set(rng.choice(candidates, size=s, replace=False).tolist()) for s in rng.choice([0, 1, 4, 9], queries)]
    return Ranking.from_scores(scores, relevant)


def test_recall_curve_is_recall_at_each_k():
    ranking = random_ranking()
    ks = [1, 2, 5, 10, 50, 80]
    expected = [mean_metrics(ranking, [f"R@{k}"])[f"R@{k}"] for k in ks]
    np.testing.assert_allclose(recall_curve(ranking, ks), expected)
    assert recall_curve(ranking, [50])[0] == 1.0  # every answerable query finds its item in the whole list


def test_interpolated_precision_never_rises_with_recall_and_starts_at_the_best_precision():
    ranking = random_ranking(1)
    curve = interpolated_precision(ranking)
    assert (np.diff(curve) <= 1e-12).all()
    answerable = ranking.answerable
    precision = np.cumsum(ranking.hits, axis=1) / np.arange(1, ranking.hits.shape[1] + 1)
    np.testing.assert_allclose(curve[0], precision[answerable].max(axis=1).mean())


def test_curves_of_a_perfect_ranking():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]])
    ranking = Ranking.from_scores(scores, [{0, 1}])
    np.testing.assert_allclose(interpolated_precision(ranking), np.ones(11))
    np.testing.assert_allclose(recall_curve(ranking, [1, 4]), [1.0, 1.0])


def test_curves_without_answerable_queries_are_nan():
    ranking = Ranking.from_scores(np.zeros((2, 3)), [set(), set()])
    assert np.isnan(recall_curve(ranking, [1])).all() and np.isnan(interpolated_precision(ranking)).all()
