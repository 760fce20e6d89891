"""find_duplicates against an all-pairs oracle: the groups are the connected components of the pairs whose cosine
similarity reaches the threshold, with exact search and with a built ANN index."""
from __future__ import annotations

import numpy as np
import pytest

from mmret.api import Collection
from mmret.query.duplicates import find_duplicates


def planted(count: int = 3000, copies: int = 300, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Random unit vectors, then `copies` rows replaced by noisy copies of others (some copies of copies)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    for row in rng.choice(np.arange(1, count), copies, replace=False):
        vectors[row] = vectors[rng.integers(0, row)] + rng.normal(0, rng.uniform(0.05, 0.4), dim)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def components(vectors: np.ndarray, threshold: float) -> set[frozenset[str]]:
    close = vectors @ vectors.T >= threshold
    seen, groups = set(), set()
    for start in range(len(vectors)):
        if start in seen:
            continue
        group, todo = {start}, [start]
        while todo:
            for other in np.flatnonzero(close[todo.pop()]).tolist():
                if other not in group:
                    group.add(other)
                    todo.append(other)
        seen |= group
        if len(group) > 1:
            groups.add(frozenset(str(i) for i in group))
    return groups


@pytest.mark.parametrize("factory", [None, "HNSW16"])
def test_groups_are_the_components_of_the_close_pairs(tmp_path, factory):
    vectors = planted()
    collection = Collection.create_for_vectors(tmp_path / "c", "random", {"shared": vectors.shape[1]})
    collection.add_vectors(vectors)
    if factory:
        collection.optimize(factory=factory, target_recall=0.99)
    for threshold in (0.9, 0.97):
        found = {frozenset(c.record.item_id for c in g.copies) for g in find_duplicates(collection.store, threshold)}
        expected = components(vectors, threshold)
        assert len(expected) > 20
        assert found == expected
