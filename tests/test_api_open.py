"""Opening a collection never creates one by itself: a search of a mistyped path is an error that leaves no
folder behind, and the first add() is what creates a new collection (issue 10, defect 8)."""
from __future__ import annotations

import numpy as np
import pytest

from mmret import Collection
from mmret.encoders.base import SHARED, Encoder
from mmret.index.collection import CollectionError


class TextOnly(Encoder):
    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("text",), {SHARED: 4}, "text-only-test"

    def embed_prepared(self, modality, batch):
        vectors = np.array([[len(t), t.count("a"), t.count("e"), 1.0] for t in batch], dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


def test_searching_a_mistyped_collection_is_an_error_and_creates_nothing(tmp_path):
    typo = tmp_path / "phtos"
    with pytest.raises(CollectionError, match="phtos.*no collection"):
        Collection.open(typo, TextOnly()).search(text="a red car")
    assert not typo.exists()
    with pytest.raises(CollectionError, match="no collection"):
        Collection.open(typo, create=False)
    assert not typo.exists()


def test_the_first_add_creates_the_collection(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text('{"id": "n1", "text": "a red car"}\n{"id": "n2", "text": "green trees"}\n')
    collection = Collection.open(tmp_path / "c", TextOnly())
    assert len(collection) == 0 and not (tmp_path / "c").exists()
    with pytest.raises(Exception, match="missing.csv"):
        collection.add([tmp_path / "missing.csv"])
    assert not (tmp_path / "c").exists()
    assert collection.add([notes]).added == 2
    assert len(Collection.open(tmp_path / "c", create=False)) == 2
