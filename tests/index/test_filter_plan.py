"""The filter plan `optimize` measures: its recall holds for new filters and queries at each band against brute force
over the allowed rows, a reopened collection searches by the stored plan, a collection optimized before plans
keeps the fixed rule, and the next optimize measures the plan again."""
import json
import shutil

import numpy as np
import pytest

from mmret.index.checks import DB_FILE
from mmret.index.collection import CollectionError, Record, VectorCollection
from mmret.index.filter_plan import MEASURED_FROM, SHARES, FilterPlan
from mmret.index.filter_strategy import (
    EXACT,
    POSTFILTER,
    SELECTOR,
    Strategy,
    search_broadly,
)
from mmret.index.store import MetadataStore

N, DIM, K = 50_000, 32, 10
TARGET = 0.9


def clustered(rng, n, centers=400, noise=0.2):
    middles = np.random.default_rng(99).standard_normal((centers, DIM))  # queries and data share the clusters
    vectors = middles[rng.integers(centers, size=n)] + noise * rng.standard_normal((n, DIM))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def brute_force(vectors, allowed, queries):
    """The oracle: the top k of the allowed rows by inner product, ties by row."""
    rows = np.flatnonzero(allowed)
    scores = queries @ vectors[rows].T
    return [rows[np.lexsort((rows, -row))[:K]] for row in scores]


def recalls(found, truth):
    return np.array([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)])


@pytest.fixture(scope="module", params=["HNSW16", "IVF128,PQ8"])
def planned(request, tmp_path_factory):
    """N clustered vectors, each item with a uniform random `u` in [0, 1) to filter on, optimized."""
    rng = np.random.default_rng(1)
    vectors, u = clustered(rng, N), rng.random(N)
    path = tmp_path_factory.mktemp("plan") / "c"
    with VectorCollection.create(path, "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"v{i}", "text", metadata={"u": float(u[i])}) for i in range(N)], {"shared": vectors})
        report = coll.optimize(factory=request.param, target_recall=TARGET)["shared"]
    return path, vectors, u, report


def searched(coll, where, queries):
    return [[int(h.item_id[1:]) for h in row] for row in coll.search("shared", queries, K, where=where)]


def test_each_band_holds_its_recall_for_new_filters_and_queries(planned):
    path, vectors, u, report = planned
    queries = clustered(np.random.default_rng(2), 200)
    with VectorCollection.open(path) as coll:
        plan = coll.built_index("shared").filter_plan
        assert [b.share for b in plan.bands] == [s for s in SHARES if round(s * (N - 200)) >= MEASURED_FROM]
        assert report["filter_plan"] == plan.summary()
        view = coll._space("shared")
        for band in plan.bands:
            start = 0.5 * (1 - 1.2 * band.share)  # a new subset, 1.2x the band's share: inside the band
            allowed = (u >= start) & (u < start + 1.2 * band.share)
            assert view.filter_strategy(int(allowed.sum()), N) == band.strategy
            found = searched(coll, {"u": {"$gte": start, "$lt": start + 1.2 * band.share}}, queries)
            assert all(len(row) == K and allowed[row].all() for row in found)
            recall = recalls(found, brute_force(vectors, allowed, queries))
            # two samples of 200 queries (the plan's and these): each mean within about 3 sd / sqrt(200)
            assert recall.mean() >= band.recall - 3 * recall.std() * np.sqrt(2 / 200) - 1e-9, (band, recall.mean())
            assert band.recall >= TARGET
            assert band.strategy.name == EXACT or band.p50_ms <= min(
                t["p50_ms"] for t in report["filter_trials"] if t["share"] == band.share and t["strategy"] == EXACT)


def test_every_measured_trial_is_what_new_filters_get(planned):
    """The plan's measurements themselves, whichever strategy won: a new random filter at the same share, new
    queries, searched by the same strategy, recall the same within sampling error."""
    path, vectors, _, report = planned
    queries = clustered(np.random.default_rng(3), 200)
    with VectorCollection.open(path) as coll:
        view = coll._space("shared")
        segment, index = view.indexed_segment(), view.index()
        params = view.built.params
        measured = [t for t in report["filter_trials"] if t["recall"] is not None and t["strategy"] != EXACT]
        assert measured, report["filter_trials"]
        rng = np.random.default_rng(4)
        for trial in measured:
            name, widen = trial["strategy"].split(" x")
            allowed = np.zeros(N, bool)
            allowed[rng.choice(N, round(trial["share"] * N), replace=False)] = True
            found = [segment.positions(n.ids) for n in search_broadly(index, segment, queries, K, allowed, None,
                                                                      Strategy(name, float(widen)))]
            recall = recalls(found, brute_force(vectors, allowed, queries))
            assert abs(recall.mean() - trial["recall"]) <= 4 * max(recall.std(), 0.05) * np.sqrt(2 / 200), (
                trial, recall.mean(), params)


def test_a_reopened_collection_searches_by_the_stored_plan(planned):
    path, vectors, *_ = planned
    with VectorCollection.open(path) as coll:
        plan = coll.built_index("shared").filter_plan
        stored = json.loads(json.dumps(coll.built_index("shared").to_dict()))
    assert FilterPlan.from_dict(stored["filter_plan"]) == plan
    with VectorCollection.open(path) as reader, VectorCollection.open(path) as writer:
        view = reader._space("shared")
        reader.search("shared", vectors[:1], K, where={"u": {"$lt": 0.2}})
        loaded = view.index()
        for band in plan.bands:
            assert view.filter_strategy(round(band.share * N), N) == plan.strategy_for(band.share)
        assert view.filter_strategy(1, N) == Strategy(EXACT)  # narrower than every band measured
        writer.upsert([Record("new", "text", metadata={"u": 0.5})], {"shared": vectors[:1]})
        reader.search("shared", vectors[:1], K, where={"u": {"$lt": 0.2}})  # catches up with the commit
        assert reader._space("shared").built.filter_plan == plan and reader._space("shared").index() is loaded


def copied(path, target):
    """A copy of the collection folder `path` at `target` (the tests change copies, never the shared fixture)."""
    shutil.copytree(path, target)
    return target


def test_a_collection_optimized_before_plans_keeps_the_fixed_rule(planned, tmp_path):
    path, vectors, u, _ = planned
    old = copied(path, tmp_path / "old")
    store = MetadataStore(old / DB_FILE)
    built = store.get_meta("index:shared")
    store.set_meta({"index:shared": {key: built[key] for key in ("segment", "factory", "file", "params", "recall")}})
    store.close()
    queries = clustered(np.random.default_rng(5), 50)
    with VectorCollection.open(old) as coll:
        built = coll.built_index("shared")
        assert built.filter_plan is None and "filter_plan" not in built.to_dict()
        view = coll._space("shared")
        broad = SELECTOR if "IVF" in built.factory else POSTFILTER
        assert view.filter_strategy(20_000, N) == Strategy(EXACT)
        assert view.filter_strategy(30_000, N) == Strategy(broad, 1 / (30_000 / N))
        for share in (0.01, 0.6):
            allowed = u < share
            found = searched(coll, {"u": {"$lt": share}}, queries)
            assert all(len(row) == K and allowed[row].all() for row in found)
            recall = recalls(found, brute_force(vectors, allowed, queries)).mean()
            assert recall == 1.0 if share == 0.01 else recall >= 0.9, (share, recall)


def test_the_next_optimize_measures_the_plan_again(planned, tmp_path):
    path, *_ = planned
    copy = copied(path, tmp_path / "again")
    with VectorCollection.open(copy) as coll:
        before = coll.built_index("shared")
        coll.upsert([Record(f"n{i}", "text", metadata={"u": 0.5}) for i in range(100)],
                    {"shared": clustered(np.random.default_rng(6), 100)})
        report = coll.optimize(factory="Flat", target_recall=0.99)["shared"]
        after = coll.built_index("shared")
    assert after.segment != before.segment and after.filter_plan != before.filter_plan
    assert after.filter_plan.target_recall == 0.99 and report["filter_plan"] == after.filter_plan.summary()
    assert {b.strategy.name for b in after.filter_plan.bands} <= {EXACT, SELECTOR}  # an exact index: no post-filter
    assert all(b.recall == 1.0 for b in after.filter_plan.bands)
    with VectorCollection.open(copy) as reopened:
        assert reopened.built_index("shared").filter_plan == after.filter_plan


def test_a_malformed_stored_plan_is_named_on_open(planned, tmp_path):
    path, *_ = planned
    bad = copied(path, tmp_path / "bad")
    store = MetadataStore(bad / DB_FILE)
    built = store.get_meta("index:shared")
    built["filter_plan"]["bands"][0]["strategy"] = "guess"
    store.set_meta({"index:shared": built})
    store.close()
    with pytest.raises(CollectionError, match=r"collection.sqlite: setting index:shared: filter_plan: unknown "
                                              r"strategy 'guess'"):
        VectorCollection.open(bad)
