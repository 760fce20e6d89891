"""Each index kind's recall@10 against exact search on clustered vectors, through the VectorIndex interface
and through a collection after `optimize` (filters, tombstones, unmerged segments, tuned parameters)."""
import numpy as np
import pytest

from mmret.index.base import SearchParams
from mmret.index.collection import CollectionError, Record, VectorCollection
from mmret.index.filter_strategy import POSTFILTER, SELECTOR, Strategy, search_broadly
from mmret.index.kinds import KINDS, auto_factory, kind_of
from mmret.index.segment import Segment

FACTORIES = ["Flat", "HNSW16", "IVF32,PQ8"]


def clustered(rng, n, dim, centers=40, noise=0.35):
    middles = np.random.default_rng(99).standard_normal((centers, dim))  # queries and data share the clusters
    vectors = middles[rng.integers(centers, size=n)] + noise * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors, ids, queries, k):
    scores = queries @ vectors.T
    return [ids[np.lexsort((ids, -row))[:k]] for row in scores]


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return clustered(rng, 4000, 32), clustered(rng, 50, 32)


@pytest.mark.parametrize("factory", FACTORIES)
def test_index_interface_recall_removal_and_round_trip(factory, data, tmp_path):
    vectors, queries = data
    kind = kind_of(factory)
    index = kind.build(factory, vectors)
    positions = np.arange(len(vectors))
    params = SearchParams(ef_search=128, nprobe=8, shortlist=200)
    found = [n.ids for n in index.search(queries, 10, params=params)]
    assert recall(found, exact_top(vectors, positions, queries, 10)) >= (1.0 if factory == "Flat" else 0.9)
    allowed = np.arange(len(vectors)) % 4 == 0
    removed = np.arange(0, len(vectors), 8)  # half of the allowed ones
    index.remove(removed)
    found = [n.ids for n in index.search(queries, 10, allowed=allowed, excluded=np.array([1, 2]), params=params)]
    live = allowed.copy()
    live[removed] = False
    assert all(live[f].all() for f in found)
    assert recall(found, exact_top(vectors[live], positions[live], queries, 10)) >= 0.85
    index.save(tmp_path / "x.index")
    loaded = kind.load(tmp_path / "x.index", factory, vectors, index.defaults)
    again = loaded.search(queries, 10, params=params)
    assert [n.ids.tolist() for n in again] == [n.ids.tolist() for n in kind.build(factory, vectors).search(
        queries, 10, params=params)]


@pytest.mark.parametrize("factory", FACTORIES)
def test_optimized_collection_search_meets_its_tuned_recall(factory, data, tmp_path):
    vectors, queries = data
    records = [Record(f"v{i}", "text", metadata={"bucket": i % 100}) for i in range(len(vectors))]
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 32}) as coll:
        for start in range(0, len(vectors), 500):
            coll.upsert(records[start : start + 500], {"shared": vectors[start : start + 500]})
        coll.remove([f"v{i}" for i in range(0, 4000, 10)])
        report = coll.optimize(factory=factory, target_recall=0.9)["shared"]
        assert report["factory"] == factory and report["vectors"] == 3600
        assert coll.segment_count("shared") == 1 and coll.vector_count("shared") == 3600
        assert report["recall@10"] >= 0.9
        # new writes after optimize: searched exactly beside the index
        extra = clustered(np.random.default_rng(5), 100, 32)
        coll.upsert([Record(f"n{i}", "text", metadata={"bucket": 1000}) for i in range(100)], {"shared": extra})
        coll.remove([f"v{i}" for i in range(1, 4000, 10)])
        live = np.array([i % 10 not in (0, 1) for i in range(4000)])
        every = np.concatenate([vectors[live], extra])
        names = np.array([f"v{i}" for i in np.flatnonzero(live)] + [f"n{i}" for i in range(100)])
        order = np.arange(len(every))
        for where, keep in [(None, np.ones(len(every), bool)),
                            ({"bucket": {"$lt": 10}}, np.array([int(n[1:]) % 100 < 10 if n[0] == "v" else False
                                                                for n in names])),
                            ({"bucket": {"$in": [7, 1000]}}, np.array([n[0] == "n" or int(n[1:]) % 100 == 7
                                                                       for n in names]))]:
            hits = coll.search("shared", queries, k=10, where=where)
            found = [[h.record.item_id for h in row] for row in hits]
            truth = [names[keep][t] for t in exact_top(every[keep], order[: keep.sum()], queries, 10)]
            assert recall(found, truth) >= (1.0 if factory == "Flat" else 0.85), where
            assert all(h.record.metadata["bucket"] in range(10) for row in hits for h in row) or where != {
                "bucket": {"$lt": 10}}
        assert "v1" not in {h.record.item_id for row in coll.search("shared", queries, k=50) for h in row}
    with VectorCollection.open(tmp_path / "c") as reopened:
        assert reopened.built_index("shared").factory == factory
        assert reopened.vector_count("shared") == 3300


def test_per_query_params_change_the_work_done(data, tmp_path):
    vectors, queries = data
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 32}) as coll:
        coll.upsert([Record(f"v{i}", "text") for i in range(len(vectors))], {"shared": vectors})
        coll.optimize(factory="IVF32,PQ8", target_recall=0.8)
        truth = exact_top(vectors, np.arange(len(vectors)), queries, 10)
        def measured(params):
            return recall([[int(h.record.item_id[1:]) for h in row]
                           for row in coll.search("shared", queries, 10, params=params)], truth)
        assert measured(SearchParams(nprobe=1, shortlist=10)) < measured(SearchParams(nprobe=32, shortlist=400))
        assert measured(SearchParams(nprobe=32, shortlist=400)) >= 0.95
        with pytest.raises(CollectionError, match="index factory 'PQ8'"):
            coll.optimize(factory="PQ8")


def test_auto_choice_by_size_and_budget():
    assert auto_factory(10_000, 384) == "Flat"
    assert auto_factory(1_000_000, 384).startswith("HNSW")
    assert auto_factory(10_000_000, 384).startswith("IVF")
    assert auto_factory(1_000_000, 384, memory_budget=1 << 30).startswith("IVF")
    assert set(KINDS) == {"flat", "hnsw", "ivfpq"}


@pytest.mark.parametrize("factory", ["HNSW16", "IVF32,PQ8"])
@pytest.mark.parametrize("name", [SELECTOR, POSTFILTER])
def test_filters_searched_through_the_index_keep_recall_and_full_k(factory, name, data):
    """Each index strategy as the fixed rule widens it (by 1/share), with the index's default params."""
    vectors, queries = data
    index = kind_of(factory).build(factory, vectors)
    segment = Segment("s", np.arange(len(vectors), dtype=np.int64), vectors)
    buckets = np.arange(len(vectors)) % 100
    for keep in (buckets < 30, buckets < 10, buckets == 3):
        found = [n.ids for n in search_broadly(index, segment, queries, 10, keep, None, Strategy(name, 1 / keep.mean()))]
        assert all(len(ids) == 10 for ids in found)  # the exact fallback fills what the index misses
        assert keep[np.array(found)].all()
        assert recall(found, exact_top(vectors[keep], np.flatnonzero(keep), queries, 10)) >= 0.9, keep.mean()


def test_the_recall_optimize_tunes_for_is_what_new_queries_get(tmp_path):
    """Tuned on vectors held out of the index: a stored vector as the query finds its own neighbourhood more
    easily than a new one does (tuned on them, this collection got efSearch 24, and new queries recall 0.874)."""
    rng = np.random.default_rng(3)
    vectors = clustered(rng, 20_000, 128, centers=2000, noise=0.1)
    fresh = clustered(rng, 300, 128, centers=2000, noise=0.1)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 128}) as coll:
        coll.upsert([Record(f"v{i}", "text") for i in range(len(vectors))], {"shared": vectors})
        assert coll.optimize(factory="HNSW8", target_recall=0.9)["shared"]["recall@10"] >= 0.9
        found = [[int(h.item_id[1:]) for h in row] for row in coll.search("shared", fresh, k=10)]
    assert recall(found, exact_top(vectors, np.arange(len(vectors)), fresh, 10)) >= 0.88  # 300 queries: +-0.02
