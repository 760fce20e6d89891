"""The relevance curve: a class-balanced logistic fit recovers the curve that generated the labels, its cut keeps
the asked share of right items, and it survives a round trip through JSON."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmret.errors import BadInput
from mmret.fusion.relevance import RIGHT_ITEMS_KEPT, RelevanceCurve


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_fit_recovers_the_generating_curve():
    """Labels drawn from a known logistic of (score, query . mean): the fit finds its coefficients (balanced
    weighting only moves the intercept, by the log of the class ratio)."""
    rng = np.random.default_rng(0)
    queries, gallery = unit_rows(rng.standard_normal((400, 8))), unit_rows(rng.standard_normal((300, 8)) + 0.5)
    scores = queries @ gallery.T
    baseline = (queries @ gallery.mean(axis=0))[:, None]
    true_logits = 12.0 * scores - 6.0 * baseline - 5.0
    relevant = rng.random(scores.shape) < 1 / (1 + np.exp(-true_logits))
    curve = RelevanceCurve.fit(queries, gallery, relevant)
    assert curve.slope == pytest.approx(12.0, rel=0.1)
    assert curve.baseline_weight == pytest.approx(-6.0, rel=0.15)
    prior = np.log(relevant.sum() / (~relevant).sum())
    assert curve.intercept == pytest.approx(-5.0 - prior, abs=0.3)


def test_the_cut_keeps_the_share_of_right_items_it_was_tuned_for():
    rng = np.random.default_rng(1)
    queries, gallery = unit_rows(rng.standard_normal((200, 16))), unit_rows(rng.standard_normal((200, 16)))
    queries = unit_rows(queries + 0.8 * gallery)  # query i describes item i
    relevant = np.eye(200, dtype=bool)
    curve = RelevanceCurve.fit(queries, gallery, relevant)
    right = np.array([curve(queries[i] @ gallery[i], queries[i]) for i in range(200)])
    assert (right >= curve.cut).mean() == pytest.approx(RIGHT_ITEMS_KEPT, abs=0.01)
    restored = RelevanceCurve.from_dict(json.loads(json.dumps(curve.to_dict())))
    assert restored.cut == curve.cut
    assert np.allclose(restored(queries[0] @ gallery.T, queries[0]), curve(queries[0] @ gallery.T, queries[0]),
                       atol=1e-5)


def test_one_class_of_pairs_cannot_be_fitted():
    vectors = unit_rows(np.ones((3, 4)))
    with pytest.raises(BadInput, match="relevant and irrelevant"):
        RelevanceCurve.fit(vectors, vectors, np.zeros((3, 3), dtype=bool))
    with pytest.raises(BadInput, match="not a stored curve"):
        RelevanceCurve.from_dict({"slope": 1.0})
