"""The server's thread-bound access to a collection (serve/live.py), on both backends: it follows commits made
through another handle by the base's `committed_generation`, and its stand-in for a collection offers the reads
the search makes, each run on the reader's thread, and nothing else."""
from __future__ import annotations

import time

import numpy as np
import pytest

from mmret.index.backend import create_collection
from mmret.index.values import Record
from mmret.serve.live import LiveCollection, OnThread

from ..index.backends.test_collection_contract import place_for

VECTORS = np.eye(2, 4, dtype=np.float32)


@pytest.fixture(params=["embedded", "milvus-lite"])  # a server's follow-up is the contract suite's
def live(request, tmp_path):
    """(LiveCollection, another handle writing to the same collection)."""
    place = place_for(request.param, tmp_path, request)
    with create_collection(place, "test-model", {"shared": 4}) as other:
        other.upsert([Record("a", "vector", metadata={"n": 1})], {"shared": VECTORS[:1]})
        served = LiveCollection(place, refresh_interval=0.0)
        try:
            yield served, other
        finally:
            served.close()


def test_commits_through_another_handle_are_followed(live):
    served, other = live
    assert served.generation == 1
    other.upsert([Record("b", "vector")], {"shared": VECTORS[1:]})
    deadline = time.monotonic() + 10
    while served.read(lambda store: store.generation) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert served.read(len) == 2 and served.generation == 2


def test_the_stand_in_offers_the_reads_of_a_search_and_nothing_else(live):
    served, _ = live
    store = OnThread(served)
    assert (store.model_id, store.spaces, store.path) == ("test-model", {"shared": 4}, served.path)
    assert store.get("a") == Record("a", "vector", metadata={"n": 1})
    assert [r.item_id for r in store.find({"n": 1})] == ["a"]
    assert list(store.vectors_of(["a"], "shared")) == ["a"] and store.setting("anything") is None
    assert [hit.item_id for hit in store.search("shared", VECTORS[:1], 1)[0]] == ["a"]
    for unknown in ("upsert", "remove", "committed_generation", "no_such_method"):
        with pytest.raises(AttributeError):
            getattr(store, unknown)
