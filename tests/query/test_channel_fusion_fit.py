"""Fitting the adaptive channel fusion (mmret.query.channel_fusion_fit): its shortcut ranks agree with
fuse_channels itself, and on examples where one fixed weight cannot serve both kinds of query it finds settings
that serve both."""
from __future__ import annotations

import random

import numpy as np
import pytest

from mmret.errors import BadInput
from mmret.query.channel_fusion import (
    ChannelFusion,
    adaptive_word_weight,
    fuse_channels,
)
from mmret.query.channel_fusion_fit import (
    FusionExample,
    _ranks_by_weight,
    fit_channel_fusion,
    fusion_recall,
)


def _random_example(rng: random.Random) -> FusionExample:
    pool = [f"i{n}" for n in range(25)]
    words = sorted(((i, float(rng.randint(1, 6))) for i in rng.sample(pool, rng.randint(0, 12))), key=lambda h: -h[1])
    vectors = sorted(((i, rng.uniform(-1, 1)) for i in rng.sample(pool, rng.randint(1, 12))), key=lambda h: -h[1])
    return FusionExample(words, vectors, frozenset(rng.sample(pool, 2)))


def test_shortcut_ranks_match_fuse_channels_at_every_weight():
    rng = random.Random(3)
    for _ in range(40):
        example = _random_example(rng)
        weights = np.linspace(0, 1, 11)
        shortcut = _ranks_by_weight(example, weights)
        for weight, rank in zip(weights, shortcut):
            # min == max weight makes the adaptive fusion a fixed weight on the same normalisations
            settings = ChannelFusion(min_word_weight=weight, max_word_weight=weight)
            if example.word_hits:
                assert adaptive_word_weight([s for _, s in example.word_hits], settings) == pytest.approx(weight)
            ids = [h.item_id for h in fuse_channels(example.word_hits, example.vector_hits, settings, k=100)]
            expected = next((r for r, i in enumerate(ids, start=1) if i in example.relevant), np.inf)
            if example.word_hits:
                assert rank == expected


def _term_query(n: int) -> FusionExample:
    """A rare term that one title holds: one strong word hit, the vectors put the item at rank 4."""
    target = f"t{n}"
    return FusionExample([(target, 9.0), (f"w{n}", 2.0)],
                         [(f"v{n}a", 0.60), (f"v{n}b", 0.55), (f"v{n}c", 0.50), (target, 0.45), (f"w{n}", 0.3)],
                         frozenset({target}))


def _descriptive_query(n: int) -> FusionExample:
    """A sentence whose words match many titles a little: the word list's top is wrong, the vectors are right."""
    target = f"d{n}"
    return FusionExample([(f"x{n}", 5.0), (f"y{n}", 4.9), (f"z{n}", 4.8), (target, 4.7), (f"p{n}", 4.0),
                          (f"q{n}", 3.5), (f"r{n}", 3.0)],
                         [(target, 0.70), (f"x{n}", 0.69), (f"y{n}", 0.45), (f"z{n}", 0.3)],
                         frozenset({target}))


def test_fit_serves_rare_terms_and_descriptive_queries_where_fixed_weights_cannot():
    examples = [_term_query(n) for n in range(10)] + [_descriptive_query(n) for n in range(10)]
    settings, fitted = fit_channel_fusion(examples)
    assert fitted["r@1"] == 1.0
    assert fusion_recall(settings, examples)["r@1"] == 1.0
    for fixed in (ChannelFusion(method="rrf"), *(ChannelFusion(method="weighted", word_weight=w)
                                                 for w in np.linspace(0, 1, 21))):
        assert fusion_recall(fixed, examples)["r@1"] <= 0.5


def test_fusion_recall_counts_first_relevant_rank():
    examples = [_descriptive_query(0)]
    # words alone (weight 1, descriptive list): the target is 4th; vectors alone: 1st
    words_only = ChannelFusion(method="weighted", word_weight=1.0)
    assert fusion_recall(words_only, examples, ks=(1, 5)) == {"r@1": 0.0, "r@5": 1.0, "mrr": 0.25}
    assert fusion_recall(ChannelFusion(method="weighted", word_weight=0.0), examples)["mrr"] == 1.0


def test_fit_refuses_no_examples():
    with pytest.raises(BadInput, match="no example"):
        fit_channel_fusion([])
