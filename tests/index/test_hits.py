"""Hits answer with item_ids from memory and read their records on first use, once for the whole search."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmret.index.collection import ItemGone, Record, VectorCollection, readable

DIM = 8


def unit(rng, n):
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    vectors = unit(rng, 30)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"i{n}", "text", text=f"text {n}", metadata={"n": n}) for n in range(30)],
                    {"shared": vectors})
    return tmp_path / "c", vectors


def test_a_hit_removed_after_its_search_says_so_and_readable_leaves_it_out(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    hits = reader.search("shared", vectors[:1], k=3)[0]
    assert hits[0].item_id == "i0"
    writer.remove(["i0"])
    with pytest.raises(ItemGone, match="'i0' was removed or replaced after the search"):
        _ = hits[0].record
    assert [h.record.metadata["n"] for h in readable(hits)] == [int(h.item_id[1:]) for h in hits[1:]]
    assert "i0" not in [h.item_id for h in reader.search("shared", vectors[:1], k=3)[0]]
    reader.close(), writer.close()


def test_records_read_at_first_use_are_those_the_search_found(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    hits = reader.search("shared", vectors[:2], k=2)
    assert hits[0][0].record.text == "text 0"  # reads both queries' rows
    writer.upsert([Record("i1", "text", text="changed")], {"shared": vectors[1:2]})
    assert hits[1][0].record.text == "text 1"
    assert reader.search("shared", vectors[1:2], k=1)[0][0].record.text == "changed"
    reader.close(), writer.close()


def test_records_can_be_read_after_the_handle_is_closed(stored):
    path, vectors = stored
    with VectorCollection.open(path) as coll:
        hits = coll.search("shared", vectors[5:6], k=2)[0]
    assert hits[0].record == Record("i5", "text", text="text 5", metadata={"n": 5})


def test_a_warm_handle_sees_each_commit_of_another_handle_at_its_next_search(stored):
    path, vectors = stored
    rng = np.random.default_rng(1)
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    reader.search("shared", vectors[:1], k=1)  # warm: later searches run on the view in memory
    for step in range(5):
        fresh = unit(rng, 1)
        writer.upsert([Record(f"new{step}", "text")], {"shared": fresh})
        assert reader.search("shared", fresh, k=1)[0][0].item_id == f"new{step}"
        writer.remove([f"new{step}"])
        assert reader.search("shared", fresh, k=31)[0][0].item_id != f"new{step}"
        assert len(reader.search("shared", fresh, k=31)[0]) == 30
    reader.close(), writer.close()


def test_records_can_be_read_on_another_thread(stored):
    path, vectors = stored
    with VectorCollection.open(path) as coll:
        hits = coll.search("shared", vectors[7:8], k=1)[0]
        with ThreadPoolExecutor(1) as other:
            assert other.submit(lambda: hits[0].record.text).result() == "text 7"


def test_a_filter_compiled_before_another_handle_commits_is_compiled_again(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    late = {"n": {"$gte": 50}}
    reader.search("shared", vectors[:1], k=1)
    assert reader.search("shared", vectors[:1], k=5, where=late) == [[]]
    assert reader.search("shared", vectors[:1], k=5, where=late) == [[]]  # the compiled mask, in memory
    writer.upsert([Record("late", "text", metadata={"n": 60})], {"shared": vectors[3:4]})
    assert [h.item_id for h in reader.search("shared", vectors[:1], k=5, where=late)[0]] == ["late"]
    reader.close(), writer.close()
