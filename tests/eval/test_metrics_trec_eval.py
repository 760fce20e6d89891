"""Every metric against trec_eval (through pytrec_eval), a second oracle beside ranx.

trec_eval breaks score ties by document id, so these runs are tie-free. Queries without a relevant candidate
are not in trec_eval's qrels: it leaves them out, as our means do (their per-query values are NaN).
"""
import numpy as np
import pytest

from mmret.eval.curves import RECALL_LEVELS, interpolated_precision
from mmret.eval.metrics import Ranking, mean_metrics, per_query

pytrec_eval = pytest.importorskip("pytrec_eval", reason="pytrec_eval-terrier is not installed")

CUTOFFS = (1, 3, 5, 10)


def trec_eval(scores, relevant, measures):
    qrels = {f"q{i}": {f"d{j}": 1 for j in wanted} for i, wanted in enumerate(relevant) if wanted}
    run = {f"q{i}": {f"d{j}": float(v) for j, v in enumerate(row)} for i, row in enumerate(scores) if relevant[i]}
    values = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    return lambda name: np.array([values[f"q{i}"][name] for i, wanted in enumerate(relevant) if wanted])


def random_case(seed, queries=50, candidates=40):
    rng = np.random.default_rng(seed)
    scores = rng.permutation(queries * candidates).reshape(queries, candidates) / 11.0
    sizes = rng.choice([0, 1, 1, 3, 7, 20], size=queries)
    return scores, [set(rng.choice(candidates, size=s, replace=False).tolist()) for s in sizes]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_trec_eval(seed):
    scores, relevant = random_case(seed)
    cutoffs = ",".join(map(str, CUTOFFS))
    sizes = sorted({len(s) for s in relevant if s})
    theirs = trec_eval(scores, relevant, {"map", "Rprec", "recip_rank", f"P.{cutoffs}", f"success.{cutoffs}",
                                          f"ndcg_cut.{cutoffs}", "map_cut." + ",".join(map(str, sizes))})
    ranking = Ranking.from_scores(scores, relevant)

    def ours(name):
        return per_query(ranking, name)[ranking.answerable]

    for k in CUTOFFS:
        np.testing.assert_allclose(ours(f"R@{k}"), theirs(f"success_{k}"), atol=1e-9)
        np.testing.assert_allclose(ours(f"P@{k}"), theirs(f"P_{k}"), atol=1e-9)
        np.testing.assert_allclose(ours(f"nDCG@{k}"), theirs(f"ndcg_cut_{k}"), atol=1e-9)
    np.testing.assert_allclose(ours("mAP"), theirs("map"), atol=1e-9)
    np.testing.assert_allclose(ours("R-P"), theirs("Rprec"), atol=1e-9)
    np.testing.assert_allclose(ours("MRR"), theirs("recip_rank"), atol=1e-9)
    np.testing.assert_allclose(ours("MedR"), 1 / theirs("recip_rank"), atol=1e-9)
    r = ranking.n_relevant[ranking.answerable]
    map_cut_r = np.choose(np.searchsorted(sizes, r), [theirs(f"map_cut_{s}") for s in sizes])
    np.testing.assert_allclose(ours("mAP@R"), map_cut_r, atol=1e-9)
    assert mean_metrics(ranking, ["mAP"])["mAP"] == pytest.approx(theirs("map").mean())


@pytest.mark.parametrize("seed", [3, 4])
def test_eleven_point_interpolated_precision_matches_trec_eval(seed):
    scores, relevant = random_case(seed)
    levels = [f"{level:.2f}" for level in RECALL_LEVELS]
    theirs = trec_eval(scores, relevant, {"iprec_at_recall"})
    expected = [theirs(f"iprec_at_recall_{level}").mean() for level in levels]
    np.testing.assert_allclose(interpolated_precision(Ranking.from_scores(scores, relevant)), expected, atol=1e-9)
