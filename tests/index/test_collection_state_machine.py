"""Hypothesis drives a collection through add/upsert/remove/transaction/optimize/reopen sequences and checks it
against a plain dict after every step: the stored items, their metadata, and exact (Flat) search results."""
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmret.index.checks import CollectionError
from mmret.index.collection import Record, VectorCollection

from ..vectors import random_unit_vectors

DIM = 8
NAMES = st.sampled_from([f"item-{i}" for i in range(12)])
TAGS = st.integers(0, 2)


class CollectionAgainstADict(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="mmret-state-"))
        self.collection = VectorCollection.create(self.folder / "c", "m", {"shared": DIM})
        self.model: dict[str, tuple[np.ndarray, int]] = {}  # item_id -> (vector, tag)

    def teardown(self):
        self.collection.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _write(self, items: dict[str, tuple[int, int]]) -> dict[str, tuple[np.ndarray, int]]:
        written = {name: (random_unit_vectors(np.random.default_rng(seed), 1, DIM)[0], tag)
                   for name, (seed, tag) in items.items()}
        records = [Record(name, "text", metadata={"tag": tag}) for name, (_, tag) in written.items()]
        self.collection.upsert(records, {"shared": np.stack([vector for vector, _ in written.values()])})
        return written

    @rule(items=st.dictionaries(NAMES, st.tuples(st.integers(0, 10_000), TAGS), min_size=1, max_size=5))
    def upsert(self, items):
        self.model.update(self._write(items))

    @rule(names=st.lists(NAMES, max_size=4))
    def remove(self, names):
        present = {name for name in names if name in self.model}
        assert self.collection.remove(names) == len(present)
        for name in present:
            del self.model[name]

    @rule(items=st.dictionaries(NAMES, st.tuples(st.integers(0, 10_000), TAGS), min_size=1, max_size=3),
          gone=st.lists(NAMES, max_size=2), fail=st.booleans())
    def transaction(self, items, gone, fail):
        """A transaction commits all of its writes at once, or, when its body raises, none of them."""
        staged = dict(self.model)
        try:
            with self.collection.transaction():
                staged.update(self._write(items))
                self.collection.remove(gone)
                for name in gone:
                    staged.pop(name, None)
                if fail:
                    raise KeyError("the body failed")
        except KeyError:
            return
        self.model = staged

    @precondition(lambda self: self.model)
    @rule()
    def optimize(self):
        self.collection.optimize(factory="Flat")
        assert self.collection.segment_count("shared") == 1

    @rule()
    def reopen(self):
        self.collection.close()
        self.collection = VectorCollection.open(self.folder / "c")

    @invariant()
    def items_and_metadata_match(self):
        assert len(self.collection) == self.collection.vector_count("shared") == len(self.model)
        stored = {record.item_id: record.metadata["tag"] for record in self.collection.records()}
        assert stored == {name: tag for name, (_, tag) in self.model.items()}

    @invariant()
    def exact_search_matches(self):
        query = random_unit_vectors(np.random.default_rng(99), 1, DIM)[0]
        for tag in (None, 1):
            kept = {name: vector for name, (vector, t) in self.model.items() if tag is None or t == tag}
            best = sorted((float(vector @ query) for vector in kept.values()), reverse=True)[:5]
            hits = self.collection.search("shared", query[None], k=5, where=None if tag is None else {"tag": tag})
            found = [hit.item_id for hit in hits[0]]
            assert len(set(found)) == len(found) and set(found) <= set(kept)
            # scores, not ids, are compared: items upserted with the same seed tie
            assert np.allclose([kept[name] @ query for name in found], best, atol=1e-5), (found, best)
            assert np.allclose([hit.score for hit in hits[0]], best, atol=1e-5)

    @invariant()
    def nesting_is_refused(self):
        with self.collection.transaction():
            try:
                with self.collection.transaction():
                    raise AssertionError("a nested transaction was accepted")
            except CollectionError as error:
                assert "do not nest" in str(error)


CollectionAgainstADict.TestCase.settings = settings(max_examples=80, stateful_step_count=25, deadline=None)
test_collection_against_a_dict = CollectionAgainstADict.TestCase
