"""A space added to an existing collection (the face space) is committed, seen by other handles, and checks whole."""
import numpy as np
import pytest

from mmret.index.collection import VectorCollection
from mmret.index.integrity import check_collection
from mmret.index.values import CollectionConflict, Record


def unit(rows, dim, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_an_added_space_is_stored_searched_and_seen_by_another_handle(tmp_path):
    first = VectorCollection.create(tmp_path / "c", "m", {"shared": 4})
    first.upsert([Record("a", "image")], {"shared": unit(1, 4)})
    other = VectorCollection.open(tmp_path / "c")
    first.add_space("face", 6)
    first.add_space("face", 6)  # there already: nothing
    vectors = unit(2, 6, seed=1)
    first.upsert([Record("a#face1", "image"), Record("a#face2", "image")], {"face": vectors})
    assert other.spaces == {"shared": 4, "face": 6}
    assert [hit.item_id for hit in other.search("face", vectors[1:], k=1)[0]] == ["a#face2"]
    assert VectorCollection.open(tmp_path / "c").vector_count("face") == 2
    assert check_collection(tmp_path / "c") == []


def test_a_space_cannot_change_its_dimension(tmp_path):
    collection = VectorCollection.create(tmp_path / "c", "m", {"shared": 4})
    collection.add_space("face", 6)
    with pytest.raises(CollectionConflict, match="dimension 6"):
        collection.add_space("face", 8)
