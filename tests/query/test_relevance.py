"""Calibrated relevance on the search path: a collection's fitted curve rates text hits, min_relevance cuts the
list where the curve says, and a model without a calibration refuses min_relevance by name."""
from __future__ import annotations

import numpy as np
import pytest

from mmret.api import Collection
from mmret.encoders.base import SHARED, Encoder
from mmret.errors import BadInput
from mmret.query.relevance import relevance_curve

DIM = 16
WORDS = [f"topic {n}" for n in range(40)]


class _Topics(Encoder):
    """Text `topic N` -> a fixed unit vector; the collection's items are noisy copies of those vectors."""
    model_id, modalities, spaces = "topics-model", ("text",), {SHARED: DIM}

    def __init__(self, centres: np.ndarray):
        self._centres = centres

    def encode(self, modality, raw, space=SHARED):
        return self._centres[[int(text.split()[1]) for text in raw]]

    def embed_prepared(self, modality, batch):
        raise NotImplementedError


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def topics(tmp_path):
    """40 topics, 5 items each (item `t-i` shows topic t)."""
    rng = np.random.default_rng(0)
    centres = unit_rows(rng.standard_normal((40, DIM)))
    items = unit_rows(np.repeat(centres, 5, axis=0) + 0.35 * rng.standard_normal((200, DIM)))
    collection = Collection.create_for_vectors(tmp_path / "c", "topics-model", {SHARED: DIM})
    collection.add_vectors(items, ids=[f"{t}-{i}" for t in range(40) for i in range(5)])
    return Collection.open(tmp_path / "c", _Topics(centres)), centres, items


def test_search_rates_hits_with_the_collections_curve_and_cuts_at_min_relevance(topics):
    collection, centres, _ = topics
    with pytest.raises(BadInput, match="model 'topics-model' has no relevance calibration"):
        collection.search(text="topic 3", k=5, min_relevance=0.5)
    assert all(hit.relevance is None for hit in collection.search(text="topic 3", k=5))
    collection.calibrate_relevance({f"topic {t}": [f"{t}-{i}" for i in range(5)] for t in range(0, 40, 2)})
    curve = relevance_curve(collection.store)
    hits = collection.search(text="topic 7", k=50)
    expected = curve(np.array([h.score for h in hits]), centres[7])  # the curve, applied by hand
    assert np.allclose([h.relevance for h in hits], expected)
    assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)
    kept = collection.search(text="topic 7", k=50, min_relevance=curve.cut)
    assert [h.item_id for h in kept] == [h.item_id for h in hits if h.relevance >= curve.cut]
    assert kept and all(h.item_id.startswith("7-") for h in kept)  # only the topic's own items stay
    assert len(kept) < 50  # the other topics' items fall below the cut


def test_only_text_queries_are_rated(topics):
    collection, _, _ = topics
    collection.calibrate_relevance({"topic 1": ["1-0", "1-1"]})
    assert all(hit.relevance is None for hit in collection.search(like="1-0", k=5))
    with pytest.raises(BadInput, match="calibrated for text queries"):
        collection.search(like="1-0", k=5, min_relevance=0.2)
    with pytest.raises(BadInput, match="between 0 and 1"):
        collection.search(text="topic 1", k=5, min_relevance=1.5)
    with pytest.raises(BadInput, match="'9-9' .* is not a stored item"):
        collection.calibrate_relevance({"topic 1": ["9-9"]})
