import math
import time
import warnings

import numpy as np
import pytest

from mmret.eval.metrics import (
    Ranking,
    mean_metrics,
    per_query,
    rank_order,
    relevance_matrix,
)

OURS_TO_RANX = {"R@1": "hit_rate@1", "R@5": "hit_rate@5", "P@3": "precision@3", "P@10": "precision@10",
                "mAP": "map", "R-P": "r-precision", "MRR": "mrr", "nDCG@5": "ndcg@5", "nDCG@10": "ndcg@10"}


def ranx_per_query(scores, relevant, exclude=None, depth=None):
    """ranx's per-query values for each metric of OURS_TO_RANX, over queries with a relevant candidate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ranx import Qrels, Run, evaluate
    keep = np.ones(scores.shape, bool) if exclude is None else ~exclude
    qrels, run = {}, {}
    for i, row in enumerate(scores):
        wanted = {f"d{j}": 1 for j in relevant[i] if keep[i, j]}
        if not wanted:
            continue
        ranked = [j for j in np.argsort(-row, kind="stable") if keep[i, j]][:depth]
        qrels[f"q{i:04d}"] = wanted
        run[f"q{i:04d}"] = {f"d{j}": float(row[j]) for j in ranked}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = evaluate(Qrels(qrels), Run(run), list(OURS_TO_RANX.values()), return_mean=False)
    return {ours: values[theirs] for ours, theirs in OURS_TO_RANX.items()}


def random_case(seed, queries=40, candidates=60):
    """Tie-free scores; queries with one, several or no relevant candidates."""
    rng = np.random.default_rng(seed)
    scores = (rng.permutation(queries * candidates).reshape(queries, candidates) / 7.0).astype(np.float32)
    sizes = rng.choice([0, 1, 1, 2, 5, 12], size=queries)
    relevant = [set(rng.choice(candidates, size=s, replace=False).tolist()) for s in sizes]
    return scores, relevant


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_metric_matches_ranx_on_random_runs(seed):
    scores, relevant = random_case(seed)
    ranking = Ranking.from_scores(scores, relevant)
    expected = ranx_per_query(scores, relevant)
    for name, theirs in expected.items():
        ours = per_query(ranking, name)[ranking.answerable]
        np.testing.assert_allclose(ours, theirs, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("seed", [3, 4])
def test_exclude_matches_ranx_on_runs_without_the_excluded_candidates(seed):
    scores, relevant = random_case(seed, queries=30, candidates=30)
    rng = np.random.default_rng(seed)
    exclude = np.eye(30, dtype=bool) | (rng.random((30, 30)) < 0.1)
    ranking = Ranking.from_scores(scores, relevant, exclude=exclude)
    expected = ranx_per_query(scores, relevant, exclude)
    for name, theirs in expected.items():
        np.testing.assert_allclose(per_query(ranking, name)[ranking.answerable], theirs, atol=1e-9, err_msg=name)


def test_truncated_ranked_lists_match_ranx():
    scores, relevant = random_case(5)
    depth = 8
    ranked = [np.argsort(-row, kind="stable")[:depth].tolist() for row in scores]
    ranking = Ranking.from_lists(ranked, relevant)
    expected = ranx_per_query(scores, relevant, depth=depth)
    for name, theirs in expected.items():
        np.testing.assert_allclose(per_query(ranking, name)[ranking.answerable], theirs, atol=1e-9, err_msg=name)


def test_hand_computed_query():
    ranking = Ranking.from_scores(np.array([[0.9, 0.8, 0.7, 0.6, 0.5]]), [{1, 3}])
    got = mean_metrics(ranking, ["R@1", "R@2", "P@2", "P@5", "mAP", "R-P", "MRR", "nDCG@5"])
    ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert got == pytest.approx({"R@1": 0.0, "R@2": 1.0, "P@2": 0.5, "P@5": 0.4, "mAP": (1 / 2 + 2 / 4) / 2,
                                 "R-P": 0.5, "MRR": 0.5, "nDCG@5": ndcg})


def test_recall_at_k_counts_a_query_once_however_many_relevant_items_it_retrieves():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])
    ranking = Ranking.from_scores(scores, [{0, 1, 2}, {0}])
    assert mean_metrics(ranking, ["R@3", "P@3"]) == pytest.approx({"R@3": 0.5, "P@3": 0.5})


def test_ties_are_broken_by_column_index_ascending():
    scores = np.full((3, 4), 0.5, dtype=np.float32)
    ranking = Ranking.from_scores(scores, [{0}, {2}, {3}])
    np.testing.assert_allclose(per_query(ranking, "MRR"), [1, 1 / 3, 1 / 4])


def test_rank_order_is_a_stable_argsort_of_the_negated_scores():
    rng = np.random.default_rng(0)
    scores = rng.integers(-3, 4, size=(50, 80)).astype(np.float32) / 4  # many ties, and -0.0
    scores[:, 7] = -0.0
    scores[:, 9] = np.float32(-np.inf)
    expected = np.argsort(-scores, axis=1, kind="stable")
    np.testing.assert_array_equal(rank_order(scores), expected)
    np.testing.assert_array_equal(rank_order(scores.astype(np.float64)), expected)


def test_float64_scores_keep_differences_float32_would_lose():
    scores = np.array([[1.0, 1.0 + 1e-12]])
    np.testing.assert_array_equal(rank_order(scores), [[1, 0]])


def test_queries_without_relevant_items_are_left_out_of_the_means_and_counted():
    scores = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    ranking = Ranking.from_scores(scores, [{0}, set(), {0}])
    assert ranking.answerable.tolist() == [True, False, True]
    assert np.isnan(per_query(ranking, "mAP")[1])
    assert mean_metrics(ranking, ["R@1", "mAP"]) == pytest.approx({"R@1": 0.5, "mAP": 0.75})


def test_all_queries_unanswerable_gives_nan():
    ranking = Ranking.from_scores(np.zeros((2, 3)), [set(), set()])
    assert math.isnan(mean_metrics(ranking, ["R@1"])["R@1"])


def test_exclude_removes_the_query_itself_from_its_ranking():
    scores = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.1], [0.9, 0.1, 1.0]])
    same_class = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    ranking = Ranking.from_scores(scores, same_class, exclude=np.eye(3, dtype=bool))
    assert ranking.n_relevant.tolist() == [1, 1, 0]  # query 2's only relevant item was itself
    assert ranking.hits[:, 2:].sum() == 0  # the excluded candidate is ranked last and never a hit
    np.testing.assert_allclose(per_query(ranking, "MRR")[:2], [0.5, 1.0])
    without = Ranking.from_scores(scores, same_class)
    assert mean_metrics(without, ["R@1"])["R@1"] == 1.0  # each query finds itself first


def test_boolean_matrix_and_index_sets_give_the_same_ranking():
    scores, relevant = random_case(6)
    matrix = relevance_matrix(relevant, scores.shape)
    a, b = Ranking.from_scores(scores, relevant), Ranking.from_scores(scores, matrix)
    np.testing.assert_array_equal(a.hits, b.hits)
    np.testing.assert_array_equal(a.n_relevant, b.n_relevant)


@pytest.mark.parametrize("scores, relevance, message", [
    (np.zeros(3), [{0}], "matrix"),
    (np.array([[np.nan, 0.0]]), [{0}], "finite"),
    (np.zeros((1, 2)), [{2}], "outside"),
    (np.zeros((1, 2)), [{0}, {1}], "2 queries"),
    (np.zeros((1, 2)), np.zeros((2, 2), bool), "shape"),
])
def test_bad_input_is_refused(scores, relevance, message):
    with pytest.raises(ValueError, match=message):
        Ranking.from_scores(scores, relevance)


def test_unknown_metric_name_is_refused():
    ranking = Ranking.from_scores(np.zeros((1, 2)), [{0}])
    for name in ("R@0", "Q@3", "mAP@x", "nDCG"):
        with pytest.raises(ValueError, match="unknown metric"):
            per_query(ranking, name)


def test_duplicate_candidates_in_a_ranked_list_are_refused():
    with pytest.raises(ValueError, match="more than once"):
        Ranking.from_lists([[1, 1]], [{1}])


def test_caltech_sized_image_to_image_evaluation_is_fast():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 101, size=2893)
    vectors = rng.standard_normal((2893, 64)).astype(np.float32)
    started = time.perf_counter()
    ranking = Ranking.from_scores(vectors @ vectors.T, labels[:, None] == labels[None, :],
                                  exclude=np.eye(2893, dtype=bool))
    mean_metrics(ranking, ["R@1", "R@10", "P@10", "mAP", "R-P", "MRR", "nDCG@10"])
    assert time.perf_counter() - started < 5.0  # about 0.5 s on one free core; loose for a shared machine


def ranx_map_at_r(scores, relevant):
    """ranx's map@R per query (R = the query's number of relevant candidates), one ranx run per value of R."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ranx import Qrels, Run, evaluate
    values = {}
    for r in sorted({len(s) for s in relevant if s}):
        ids = [i for i, s in enumerate(relevant) if len(s) == r]
        qrels = {f"q{i:04d}": {f"d{j}": 1 for j in relevant[i]} for i in ids}
        run = {f"q{i:04d}": {f"d{j}": float(v) for j, v in enumerate(scores[i])} for i in ids}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per = evaluate(Qrels(qrels), Run(run), f"map@{r}", return_mean=False)
        values.update(zip(ids, np.atleast_1d(per)))
    return np.array([values[i] for i in sorted(values)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_at_r_matches_ranx_map_at_the_number_of_relevant_items(seed):
    scores, relevant = random_case(seed)
    ranking = Ranking.from_scores(scores, relevant)
    np.testing.assert_allclose(per_query(ranking, "mAP@R")[ranking.answerable], ranx_map_at_r(scores, relevant),
                               atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_first_relevant_rank_is_the_inverse_of_ranx_reciprocal_rank(seed):
    scores, relevant = random_case(seed)
    ranking = Ranking.from_scores(scores, relevant)
    expected = 1 / np.asarray(ranx_per_query(scores, relevant)["MRR"])
    np.testing.assert_allclose(per_query(ranking, "MedR")[ranking.answerable], expected, atol=1e-9)
    np.testing.assert_array_equal(per_query(ranking, "MeanR"), per_query(ranking, "MedR"))
    summary = mean_metrics(ranking, ["MedR", "MeanR"])
    assert summary == pytest.approx({"MedR": np.median(expected), "MeanR": np.mean(expected)})


def test_hand_computed_map_at_r_and_ranks():
    # relevant at ranks 1, 3 and 6 of 6: R = 3, so only ranks 1 and 3 count for mAP@R
    ranking = Ranking.from_scores(np.array([[6, 5, 4, 3, 2, 1], [6, 5, 4, 3, 2, 1.0]]), [{0, 2, 5}, {4}])
    np.testing.assert_allclose(per_query(ranking, "mAP@R"), [(1 + 2 / 3) / 3, 0.0])
    np.testing.assert_allclose(per_query(ranking, "MedR"), [1, 5])
    assert mean_metrics(ranking, ["MedR", "MeanR"]) == {"MedR": 3.0, "MeanR": 3.0}


def test_median_rank_takes_the_median_not_the_mean():
    scores = np.tile(np.arange(10, 0, -1, dtype=np.float32), (4, 1))
    ranking = Ranking.from_scores(scores, [{0}, {1}, {9}, set()])  # ranks 1, 2, 10 and one unanswerable
    assert mean_metrics(ranking, ["MedR", "MeanR"]) == {"MedR": 2.0, "MeanR": pytest.approx(13 / 3)}


def test_a_truncated_list_without_a_relevant_item_has_an_infinite_rank_and_zero_map_at_r():
    ranking = Ranking.from_lists([[3, 4], [1, 2]], [{0}, {2}])
    assert per_query(ranking, "MedR").tolist() == [math.inf, 2.0]
    assert per_query(ranking, "mAP@R").tolist() == [0.0, 0.0]
    assert mean_metrics(ranking, ["MedR", "MeanR"]) == {"MedR": math.inf, "MeanR": math.inf}


def test_new_metrics_are_nan_for_queries_without_relevant_items():
    ranking = Ranking.from_scores(np.array([[0.9, 0.1], [0.9, 0.1]]), [{1}, set()])
    for name in ("mAP@R", "MedR", "MeanR"):
        assert np.isnan(per_query(ranking, name)[1]), name
    assert mean_metrics(ranking, ["mAP@R", "MedR", "MeanR"]) == {"mAP@R": 0.0, "MedR": 2.0, "MeanR": 2.0}
