"""Fusion of the word and vector lists (mmret.query.channel_fusion): each method against numbers computed by hand
on small lists, the invariants every method keeps, and the settings as stored with a collection."""
from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from mmret.encoders.base import SHARED
from mmret.errors import BadInput
from mmret.index.collection import VectorCollection
from mmret.query.channel_fusion import (
    ChannelFusion,
    adaptive_word_weight,
    fuse_channels,
    store_channel_fusion,
    stored_channel_fusion,
    word_confidence,
)

WORDS = [("a", 8.0), ("b", 4.0), ("c", 2.0)]
ADAPTIVE = ChannelFusion(tie_ratio=0.9, midpoint=0.5, steepness=12.0, min_word_weight=0.0, max_word_weight=0.9)
VECTORS = [("b", 0.9), ("d", 0.7), ("a", 0.5)]


def _scores(hits) -> dict[str, float]:
    return {h.item_id: h.score for h in hits}


def test_rrf_sums_reciprocal_ranks():
    hits = fuse_channels(WORDS, VECTORS, ChannelFusion(method="rrf", rrf_k=60), k=10)
    assert [h.item_id for h in hits] == ["b", "a", "d", "c"]
    assert _scores(hits) == pytest.approx({"a": 1 / 61 + 1 / 63, "b": 1 / 62 + 1 / 61, "c": 1 / 63, "d": 1 / 62})


def test_weighted_minmax_sum_with_missing_items_at_the_lists_minimum():
    hits = fuse_channels(WORDS, VECTORS, ChannelFusion(method="weighted", word_weight=0.3), k=10)
    # words min-max: a 1, b 1/3, c 0; vectors: b 1, d 0.5, a 0
    assert _scores(hits) == pytest.approx({"a": 0.3, "b": 0.3 / 3 + 0.7, "c": 0.0, "d": 0.7 * 0.5})
    assert [h.item_id for h in hits] == ["b", "d", "a", "c"]


def test_weighted_zscore_sum():
    hits = fuse_channels(WORDS, VECTORS, ChannelFusion(method="weighted", normalisation="zscore", word_weight=0.5))
    words, vectors = [8.0, 4.0, 2.0], [0.9, 0.7, 0.5]
    zw = {i: (s - statistics.mean(words)) / statistics.pstdev(words) for i, s in zip("abc", words)}
    zv = {i: (s - statistics.mean(vectors)) / statistics.pstdev(vectors) for i, s in zip("bda", vectors)}
    expected = {i: 0.5 * zw.get(i, min(zw.values())) + 0.5 * zv.get(i, min(zv.values())) for i in "abcd"}
    assert _scores(hits) == pytest.approx(expected)


def test_adaptive_weighs_words_by_the_keyword_lists_confidence():
    # top group {a: 8}; first score past it 4 -> confidence 1 - 4/8 = 0.5 = midpoint -> weight 0.9 / 2
    assert word_confidence([8.0, 4.0, 2.0], 0.9) == pytest.approx(0.5)
    hits = fuse_channels(WORDS, VECTORS, ADAPTIVE, k=10)
    # words over top: a 1, b 0.5, c 0.25 (missing 0); vectors min-max: b 1, d 0.5, a 0
    assert _scores(hits) == pytest.approx({"a": 0.45, "b": 0.45 * 0.5 + 0.55, "c": 0.45 * 0.25, "d": 0.55 * 0.5})
    assert [h.item_id for h in hits] == ["b", "a", "d", "c"]


def test_adaptive_trusts_a_lone_strong_word_hit_and_a_tied_group():
    settings = ADAPTIVE
    weight = 0.9 / (1 + math.exp(-12 * (1.0 - 0.5)))
    assert adaptive_word_weight([10.0], settings) == pytest.approx(weight)
    hits = fuse_channels([("x", 10.0)], [("y", 0.8), ("x", 0.6), ("z", 0.4)], settings)
    assert _scores(hits) == pytest.approx({"x": weight + (1 - weight) * 0.5, "y": 1 - weight, "z": 0.0})
    assert word_confidence([5.0, 5.0, 4.6, 1.0], 0.9) == pytest.approx(0.8)  # group {5, 5, 4.6}, then 1
    assert word_confidence([5.0, 5.0], 0.9) == 1.0  # no hit past the group: the rest scores 0
    assert word_confidence([], 0.9) == 0.0


def test_each_hit_says_which_channel_found_it_with_its_ranks_and_scores():
    hits = {h.item_id: h for h in fuse_channels(WORDS, VECTORS, ADAPTIVE, k=10)}
    assert (hits["a"].channel, hits["a"].word_rank, hits["a"].word_score, hits["a"].vector_rank,
            hits["a"].vector_score) == ("both", 1, 8.0, 3, 0.5)
    assert (hits["c"].channel, hits["c"].vector_rank, hits["c"].vector_score) == ("words", None, None)
    assert (hits["d"].channel, hits["d"].word_rank, hits["d"].vector_rank) == ("vectors", None, 2)


@pytest.mark.parametrize("settings", [ChannelFusion(), ChannelFusion(method="rrf"),
                                      ChannelFusion(method="weighted"),
                                      ChannelFusion(method="weighted", normalisation="zscore")])
def test_invariants_of_every_method(settings):
    rng = random.Random(7)
    for _ in range(50):
        pool = [f"i{n}" for n in range(30)]
        words = sorted(((i, rng.uniform(0, 20)) for i in rng.sample(pool, rng.randint(0, 15))), key=lambda h: -h[1])
        vectors = sorted(((i, rng.uniform(-1, 1)) for i in rng.sample(pool, rng.randint(0, 15))), key=lambda h: -h[1])
        k = rng.randint(1, 20)
        hits = fuse_channels(words, vectors, settings, k)
        ids = [h.item_id for h in hits]
        assert len(ids) == len(set(ids)) == min(k, len({i for i, _ in words} | {i for i, _ in vectors}))
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        assert [h.item_id for h in fuse_channels([], vectors, settings, k)] == [i for i, _ in vectors][:k]
        assert [h.item_id for h in fuse_channels(words, [], settings, k)] == [i for i, _ in words][:k]


def test_settings_round_trip_and_refuse_what_they_cannot_use():
    settings = ChannelFusion(midpoint=0.3, steepness=8.0, min_word_weight=0.1)
    assert ChannelFusion.from_dict(settings.to_dict()) == settings
    with pytest.raises(BadInput, match="unknown"):
        ChannelFusion.from_dict({"methd": "rrf"})
    with pytest.raises(BadInput, match="method 'bm25'"):
        ChannelFusion(method="bm25")
    with pytest.raises(BadInput, match="word_weight 1.5"):
        ChannelFusion(word_weight=1.5)
    with pytest.raises(BadInput, match="twice"):
        fuse_channels([("a", 1.0), ("a", 0.5)], [])


def test_settings_stored_with_a_collection_and_cleared(tmp_path):
    store = VectorCollection.create(tmp_path / "c", "test-model", {SHARED: 2})
    assert stored_channel_fusion(store) == ChannelFusion()
    store_channel_fusion(store, ChannelFusion(midpoint=0.7))
    assert stored_channel_fusion(VectorCollection.open(tmp_path / "c")) == ChannelFusion(midpoint=0.7)
    store_channel_fusion(store, None)
    assert stored_channel_fusion(VectorCollection.open(tmp_path / "c")) == ChannelFusion()


def test_ties_go_to_the_better_rank_in_either_list_then_to_the_vectors():
    # rrf: a and b each have ranks 1 and 2, so the same score; the vectors rank b first
    hits = fuse_channels([("a", 3.0), ("b", 2.0)], [("b", 0.9), ("a", 0.8)], ChannelFusion(method="rrf"))
    assert hits[0].score == hits[1].score and [h.item_id for h in hits] == ["b", "a"]
    # weighted at 0.5, min-max: c (words 1st) and d (vectors 1st) tie at 0.5; x, in no list's first place, last
    hits = fuse_channels([("c", 5.0), ("x", 1.0)], [("d", 0.9), ("x", 0.1)],
                         ChannelFusion(method="weighted", word_weight=0.5))
    assert [h.item_id for h in hits] == ["d", "c", "x"] and hits[0].score == hits[1].score == 0.5
