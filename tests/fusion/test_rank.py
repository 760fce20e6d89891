"""Decision-level fusion against hand-computed lists and ranx's implementation of the same methods."""
from __future__ import annotations

import math

import numpy as np
import pytest

from mmret.fusion import (
    SpaceCalibration,
    comb_mnz,
    comb_prod,
    comb_sum,
    fuse_runs,
    normalise,
    rrf,
)
from mmret.fusion.rank import PROD_FLOOR, ranks

NAN = math.nan
# two lists over items a, b, c, d; list 1 did not retrieve d, list 2 did not retrieve a
IMAGE = np.array([[0.9, 0.5, 0.1, NAN]])
TITLE = np.array([[NAN, 0.2, 0.8, 0.6]])


def test_ranks_count_from_one_and_skip_unretrieved():
    assert np.array_equal(ranks(IMAGE), [[1, 2, 3, NAN]], equal_nan=True)
    assert np.array_equal(ranks(TITLE), [[NAN, 3, 1, 2]], equal_nan=True)


def test_rrf_by_hand():
    expected = [1 / 61, 1 / 62 + 1 / 63, 1 / 63 + 1 / 61, 1 / 62]
    assert np.allclose(rrf([IMAGE, TITLE]), [expected])
    assert np.allclose(rrf([IMAGE, TITLE], weights=[2, 1], k=0), [[2, 2 / 2 + 1 / 3, 2 / 3 + 1, 1 / 2]])


def test_min_max_and_z_score_normalisation_by_hand():
    assert np.allclose(normalise(IMAGE, "min-max"), [[1, 0.5, 0, NAN]], equal_nan=True)
    std = np.std([0.9, 0.5, 0.1])  # around the mean 0.5
    assert np.allclose(normalise(IMAGE, "z-score"), [[0.4 / std, 0, -0.4 / std, NAN]], equal_nan=True)
    assert np.allclose(normalise(np.array([[0.3, 0.3]]), "min-max"), [[1, 1]])


def test_comb_sum_and_mnz_by_hand():
    # min-max: image [1, .5, 0, -], title [-, 0, 1, 2/3]
    assert np.allclose(comb_sum([IMAGE, TITLE]), [[1, 0.5, 1, 2 / 3]])
    assert np.allclose(comb_mnz([IMAGE, TITLE]), [[1, 1.0, 2, 2 / 3]])
    assert np.allclose(comb_sum([IMAGE, TITLE], weights=[1, 3]), [[1, 0.5, 3, 2]])


def test_comb_prod_by_hand_is_an_and_of_the_lists():
    # min-max: image [1, .5, 0, (0)], title [(0), 0, 1, 2/3]; an unretrieved item counts as its list's lowest
    low = math.log(PROD_FLOOR)
    expected = [math.log(1 + PROD_FLOOR) + low, math.log(0.5 + PROD_FLOOR) + low, low + math.log(1 + PROD_FLOOR),
                low + math.log(2 / 3 + PROD_FLOOR)]
    assert np.allclose(comb_prod([IMAGE, TITLE]), [expected])
    # both lists retrieved all three; only b is above both lists' lowest, so only b escapes a veto
    both = np.array([[0.9, 0.5, 0.4]]), np.array([[0.1, 0.6, 0.8]])
    fused = comb_prod(list(both), weights=[0.5, 1])[0]
    assert np.allclose(fused, [0.5 * math.log(1 + PROD_FLOOR) + low, 0.5 * math.log(0.2 + PROD_FLOOR)
                               + math.log(5 / 7 + PROD_FLOOR), 0.5 * low + math.log(1 + PROD_FLOOR)])
    assert np.argmax(fused) == 1  # the item good in both lists beats each list's own best
    assert np.isnan(comb_prod([np.array([[NAN, 1.0]]), np.array([[NAN, 0.5]])])[0, 0])


def test_items_no_list_retrieved_stay_unretrieved():
    fused = comb_sum([np.array([[0.1, NAN, 0.3]]), np.array([[NAN, NAN, 0.2]])])
    assert np.isnan(fused[0, 1]) and not np.isnan(fused[0, [0, 2]]).any()


def test_fuse_runs_orders_ids_best_first():
    fused = fuse_runs([{"a": 0.9, "b": 0.5, "c": 0.1}, {"b": 0.2, "c": 0.8, "d": 0.6}], "combmnz")
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]
    with pytest.raises(ValueError, match="unknown decision-level fusion 'borda'"):
        fuse_runs([{"a": 1.0}], "borda")


def test_calibration_maps_a_space_onto_unit_scale():
    sample = np.random.default_rng(0).normal(0.3, 0.05, size=(50, 40))
    calibration = SpaceCalibration.fit(sample)
    assert abs(calibration(sample).mean()) < 1e-9 and abs(calibration(sample).std() - 1) < 1e-9
    with pytest.raises(ValueError, match="two different scores"):
        SpaceCalibration.fit(np.ones((3, 3)))


def _random_runs(seed: int, queries: int = 5, items: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lists = []
    for _ in range(3):
        scores = rng.random((queries, items))
        scores[rng.random((queries, items)) < 0.3] = np.nan
        lists.append(scores)
    return lists


def _ranx_fused(lists: list[np.ndarray], norm: str | None, method: str, params: dict | None = None) -> np.ndarray:
    ranx = pytest.importorskip("ranx")
    runs = []
    for scores in lists:
        run = {f"q{q}": {f"d{i}": float(s) for i, s in enumerate(row) if not np.isnan(s)} for q, row in enumerate(scores)}
        runs.append(ranx.Run(run))
    fused = ranx.fuse(runs, norm=norm, method=method, params=params).to_dict()
    result = np.full(lists[0].shape, np.nan)
    for q, docs in fused.items():
        for doc, score in docs.items():
            result[int(q[1:]), int(doc[1:])] = score
    return result


@pytest.mark.parametrize("norm, ranx_norm", [("min-max", "min-max"), ("z-score", "zmuv")])
def test_comb_sum_and_mnz_match_ranx(norm, ranx_norm):
    lists = _random_runs(1)
    assert np.allclose(comb_sum(lists, norm=norm), _ranx_fused(lists, ranx_norm, "sum"), equal_nan=True)
    assert np.allclose(comb_mnz(lists, norm=norm), _ranx_fused(lists, ranx_norm, "mnz"), equal_nan=True)
    weights = [0.5, 0.3, 0.2]
    assert np.allclose(comb_sum(lists, weights, norm=norm),
                       _ranx_fused(lists, ranx_norm, "wsum", {"weights": weights}), equal_nan=True)


def test_rrf_matches_ranx():
    lists = _random_runs(2)
    assert np.allclose(rrf(lists, k=60), _ranx_fused(lists, None, "rrf", {"k": 60}), equal_nan=True)
