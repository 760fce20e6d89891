"""Search modes through the Python API (query/modes.py): keyword hits are the keyword index's, semantic hits the
vectors', hybrid hits both lists fused as computed here by hand; filters and exclusions hold in every mode; the
default follows the collection; malformed keyword queries and keyword modes without text are BadInput."""
from __future__ import annotations

import json
import sqlite3
import zlib
from types import MappingProxyType

import numpy as np
import pytest

from mmret import Collection
from mmret.encoders.base import SHARED, Encoder, l2_normalise
from mmret.errors import BadInput
from mmret.query.channel_fusion import ChannelFusion, store_channel_fusion

DIM = 64


def word_vector(word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM).astype(np.float32)


class BagOfWords(Encoder):
    """A text is the normalised sum of its words' fixed random vectors (enough for vectors to rank by overlap)."""

    model_id = "test-bag-of-words"
    modalities = ("text",)
    spaces = MappingProxyType({SHARED: DIM})

    def preparer(self, modality):
        self._check(modality)
        return str

    def embed_prepared(self, modality, batch):
        rows = [sum((word_vector(w) for w in t.lower().split()), np.zeros(DIM, np.float32)) + 1e-3 for t in batch]
        return {SHARED: l2_normalise(np.stack(rows))}


@pytest.fixture(scope="module")
def captions(data_dir):
    return [row["captions"][0] for row in json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())[:200]]


@pytest.fixture
def collection(tmp_path, captions):
    encoder = BagOfWords()
    created = Collection.create_for_vectors(tmp_path / "c", encoder.model_id, dict(encoder.spaces))
    created.add_vectors(encoder.encode("text", captions), ids=[str(i) for i in range(len(captions))],
                        metadata=[{"text": t, "half": i % 2} for i, t in enumerate(captions)], modality="text")
    return Collection.open(tmp_path / "c", model=encoder)


def ids(hits):
    return [hit.item_id for hit in hits]


def test_keyword_and_semantic_modes_are_each_channel_alone(collection):
    keyword = collection.search("dog snow", k=10, mode="keyword")
    assert ids(keyword) == ids(collection.store.keyword_search("dog snow", 10))
    assert all(hit.snippet.marks and set(hit.channels) == {"words"} for hit in keyword)
    semantic = collection.search("dog snow", k=10, mode="semantic")
    vector = BagOfWords().encode("text", ["dog snow"])
    assert ids(semantic) == ids(collection.store.search(SHARED, vector, 10)[0])
    assert all(hit.snippet is None and set(hit.channels) == {"vectors"} for hit in semantic)


@pytest.mark.parametrize("query", ["dog snow", "a man in a red shirt", "girl water", "two dogs playing"])
def test_hybrid_is_reciprocal_rank_fusion_of_the_two_lists_computed_by_hand(collection, query):
    store_channel_fusion(collection.store, ChannelFusion(method="rrf", rrf_k=60))
    k, fetch = 5, 20  # per file: the search fetches 4 k of each list
    words = ids(collection.store.keyword_search(query, fetch))
    vectors = ids(collection.store.search(SHARED, BagOfWords().encode("text", [query]), fetch)[0])
    fused = {item: sum(1 / (60 + lst.index(item) + 1) for lst in (words, vectors) if item in lst)
             for item in {*words, *vectors}}
    rank = {name: {item: lst.index(item) + 1 if item in lst else np.inf for item in fused}
            for name, lst in (("words", words), ("vectors", vectors))}
    # equal sums go to the better rank in either list, then to the better vector rank (channel_fusion.py)
    best = sorted(fused, key=lambda item: (-round(fused[item], 12), min(rank["words"][item], rank["vectors"][item]),
                                           rank["vectors"][item]))[:k]
    hits = collection.search(query, k=k, mode="hybrid")
    assert ids(hits) == best
    np.testing.assert_allclose([hit.score for hit in hits], [fused[i] for i in best], rtol=1e-9)
    for hit in hits:
        assert {name: where.rank for name, where in hit.channels.items()} == {
            name: lst.index(hit.item_id) + 1 for name, lst in (("words", words), ("vectors", vectors))
            if hit.item_id in lst}
        assert (hit.snippet is not None) == ("words" in hit.channels)


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "keyword"])
def test_filters_and_exclusions_hold_in_every_mode(collection, mode):
    hits = collection.search("dog running", k=8, mode=mode, where={"half": 1}, exclude=["1", "3"])
    assert hits and all(hit.record.metadata["half"] == 1 and hit.item_id not in ("1", "3") for hit in hits)


def test_hybrid_is_the_default_where_there_are_words_and_semantic_elsewhere(collection, tmp_path):
    assert collection.search("dog snow", k=3)[0].channels.keys() & {"words"}
    db = sqlite3.connect(tmp_path / "c" / "collection.sqlite")
    db.execute("DROP TABLE words")
    db.commit()
    db.close()
    old = Collection.open(tmp_path / "c", model=BagOfWords())  # as a collection made before the keyword index
    assert all(set(hit.channels) == {"vectors"} for hit in old.search("dog snow", k=3))
    with pytest.raises(BadInput, match="mmret migrate"):
        old.search("dog snow", mode="keyword")


def test_hybrid_vectors_read_the_text_without_keyword_syntax(collection):
    store_channel_fusion(collection.store, ChannelFusion(method="rrf"))
    hits = collection.search('"dog running" -snow', k=10, mode="hybrid")
    vector = BagOfWords().encode("text", ["dog running"])
    vectors = ids(collection.store.search(SHARED, vector, 40)[0])
    assert all(hit.channels["vectors"].rank == vectors.index(hit.item_id) + 1 for hit in hits
               if "vectors" in hit.channels)
    assert all("snow" not in hit.record.text.lower() for hit in hits if "words" in hit.channels)


@pytest.mark.parametrize("query, mode, problem", [('"a dog', "keyword", "unbalanced quote"),
                                                  ("-dog", "keyword", "only exclusions"),
                                                  ('"a dog', "hybrid", "unbalanced quote"),
                                                  ("dog", "fuzzy", "unknown search mode")])
def test_malformed_queries_are_bad_input(collection, query, mode, problem):
    with pytest.raises(BadInput, match=problem):
        collection.search(query, mode=mode)


def test_keyword_mode_needs_text(collection):
    with pytest.raises(BadInput, match="needs a text query"):
        collection.search(like="3", mode="keyword")
