import numpy as np
import pytest

from mmret.index.faiss_index import FaissIndex


def unit_vectors(rng, n, dim):
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(queries, vectors, ids, k):
    """Top-k ids and scores per query by numpy inner product, ties by ascending id."""
    scores = queries @ vectors.T
    results = []
    for row in scores:
        order = np.lexsort((ids, -row))[:k]
        results.append((ids[order], row[order]))
    return results


@pytest.fixture
def filled():
    rng = np.random.default_rng(0)
    vectors = unit_vectors(rng, 400, 16)
    ids = rng.permutation(10_000)[:400].astype(np.int64)
    index = FaissIndex(16)
    index.add(ids, vectors)
    return index, ids, vectors, unit_vectors(rng, 6, 16)


def assert_same(found, expected):
    assert len(found) == len(expected)
    for neighbors, (ids, scores) in zip(found, expected):
        np.testing.assert_array_equal(neighbors.ids, ids)
        np.testing.assert_allclose(neighbors.scores, scores, atol=1e-5)


def test_search_equals_brute_force(filled):
    index, ids, vectors, queries = filled
    assert_same(index.search(queries, 10), brute_force(queries, vectors, ids, 10))


def test_k_larger_than_count_returns_everything_ranked(filled):
    index, ids, vectors, queries = filled
    found = index.search(queries, 1000)
    assert all(len(neighbors.ids) == 400 for neighbors in found)
    assert_same(found, brute_force(queries, vectors, ids, 1000))


def test_removed_ids_never_come_back(filled):
    index, ids, vectors, queries = filled
    removed = ids[::3]
    assert index.remove(np.concatenate([removed, [-5, 99_999]])) == len(removed)
    assert len(index) == 400 - len(removed)
    kept = ~np.isin(ids, removed)
    found = index.search(queries, 400)
    for neighbors in found:
        assert not np.isin(neighbors.ids, removed).any()
    assert_same(found, brute_force(queries, vectors[kept], ids[kept], 400))


def test_filtered_search_equals_brute_force_on_the_allowed_set(filled):
    index, ids, vectors, queries = filled
    allowed = ids[5:40]
    found = index.search(queries, 10, allowed=allowed)
    assert all(len(neighbors.ids) == 10 for neighbors in found)  # filter applied inside FAISS
    assert_same(found, brute_force(queries, vectors[5:40], ids[5:40], 10))


def test_excluded_and_allowed_combine(filled):
    index, ids, vectors, queries = filled
    excluded = ids[:100]
    assert_same(index.search(queries, 10, excluded=excluded), brute_force(queries, vectors[100:], ids[100:], 10))
    both = index.search(queries, 50, allowed=ids[:120], excluded=excluded)
    assert_same(both, brute_force(queries, vectors[100:120], ids[100:120], 50))


def test_empty_allowed_set_or_empty_index_finds_nothing(filled):
    index, _, _, queries = filled
    assert all(len(n.ids) == 0 for n in index.search(queries, 5, allowed=np.array([], dtype=np.int64)))
    assert all(len(n.ids) == 0 for n in FaissIndex(16).search(queries, 5))


def test_ties_across_the_cut_are_broken_by_ascending_id():
    rng = np.random.default_rng(1)
    same = unit_vectors(rng, 1, 8)
    tied_ids = rng.permutation(np.arange(100, 140))
    index = FaissIndex(8)
    index.add(tied_ids, np.repeat(same, 40, axis=0))
    index.add(np.arange(10), -np.repeat(same, 10, axis=0))  # lower ids, worse scores
    for k in (1, 5, 39, 40, 45):
        expected = np.concatenate([np.arange(100, 140), np.arange(10)])[:k]
        np.testing.assert_array_equal(index.search(same, k)[0].ids, expected)


def test_save_load_round_trip(tmp_path, filled):
    index, ids, _, queries = filled
    index.save(tmp_path / "x.faiss")
    loaded = FaissIndex.load(tmp_path / "x.faiss")
    assert loaded.dim == 16 and len(loaded) == 400
    np.testing.assert_array_equal(np.sort(loaded.ids()), np.sort(ids))
    for before, after in zip(index.search(queries, 20), loaded.search(queries, 20)):
        np.testing.assert_array_equal(before.ids, after.ids)
        np.testing.assert_array_equal(before.scores, after.scores)
    assert not (tmp_path / "x.faiss.tmp").exists()


def test_add_refuses_duplicates_and_wrong_shapes(filled):
    index, ids, vectors, _ = filled
    with pytest.raises(ValueError, match="already in the index"):
        index.add(ids[:1], vectors[:1])
    with pytest.raises(ValueError, match="duplicate"):
        index.add(np.array([7, 7]), vectors[:2])
    with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
        index.add(np.array([20_000]), np.ones((1, 8), np.float32))
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        index.add(np.array([20_000, 20_001]), vectors[:1])
    assert len(index) == 400
