"""One suite for the collection backends (issues 15, 26): the embedded FAISS + SQLite folder, Milvus Lite and a
running Milvus server (started once per session by conftest.py, see milvus_server.py).

Each test builds its collection (in tmp_path, or a new collection on the server) through the dispatcher (index/backend.py) and checks it against an
independent oracle: exact numpy search over a plain dict of what was added, replaced and removed, and a plain
Python reading of the filter rules (index/where.py's docstring).
"""
from __future__ import annotations

import json
import math
import operator
import re
import shutil

import numpy as np
import pytest

from mmret.index.backend import create_collection, open_collection, open_or_create
from mmret.index.base import SearchParams
from mmret.index.collection_base import CollectionBase
from mmret.index.values import BuiltIndex, CollectionError, Record

from ...vectors import random_unit_vectors

DIM = 16
BACKENDS = ["embedded", "milvus-lite", "milvus-server"]


def _milvus_lite_missing() -> str | None:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as error:
        return f"Milvus Lite backend not testable here: {error} (pip install pymilvus milvus-lite)"
    return None


def place_for(backend: str, directory, request):
    if backend == "milvus-server":
        server = request.getfixturevalue("milvus_server")
        if reason := server.too_old:
            pytest.skip(reason)
        return server.uri()
    if backend == "milvus-lite" and (reason := _milvus_lite_missing()):
        pytest.skip(reason)
    return directory / ("coll.db" if backend == "milvus-lite" else "coll")


def other_place(place):
    """Another place of the same backend, with no collection."""
    if isinstance(place, str):
        return place.rsplit("/", 1)[0] + "/other_" + place.rsplit("/", 1)[1]
    return place.with_name("other" + place.suffix)


@pytest.fixture(params=BACKENDS)
def place(request, tmp_path):
    """Where a collection of the parametrised backend goes."""
    return place_for(request.param, tmp_path, request)


def exact(model: dict[str, np.ndarray], queries: np.ndarray, k: int, allowed=None) -> list[list[str]]:
    ids = sorted(i for i in model if allowed is None or i in allowed)
    if not ids:
        return [[] for _ in queries]
    scores = queries @ np.stack([model[i] for i in ids]).T
    return [[ids[j] for j in np.argsort(-row, kind="stable")[:k]] for row in scores]


def found_ids(hits) -> list[list[str]]:
    return [[hit.record.item_id for hit in row] for row in hits]


# -- the base --------------------------------------------------------------------------------------------


def test_each_backend_implements_the_whole_base(place):
    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        assert isinstance(coll, CollectionBase) and not type(coll).__abstractmethods__


def test_committed_generation_counts_every_commit_whichever_handle_made_it(place):
    rng = np.random.default_rng(9)
    with create_collection(place, "test-model", {"shared": DIM}) as coll, open_collection(place) as other:
        assert coll.committed_generation() == other.committed_generation() == 0
        coll.upsert([Record("a", "vector")], {"shared": random_unit_vectors(rng, 1, DIM)})
        assert coll.committed_generation() == other.committed_generation() == 1
        with coll.transaction():  # one commit however many writes
            coll.upsert([Record("b", "vector")], {"shared": random_unit_vectors(rng, 1, DIM)})
            coll.remove(["a"])
        assert coll.committed_generation() == coll.generation == 2
        assert other.committed_generation() == 2 and other.generation == 0  # seen, not loaded


# -- writes and exact search ------------------------------------------------------------------------------


def test_search_matches_exact_search_through_upserts_and_removals(place):
    rng = np.random.default_rng(0)
    model: dict[str, np.ndarray] = {}
    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        vectors = random_unit_vectors(rng, 300, DIM)
        coll.upsert([Record(f"i{n}", "vector") for n in range(300)], {"shared": vectors})
        model.update({f"i{n}": vectors[n] for n in range(300)})
        replaced = random_unit_vectors(rng, 50, DIM)  # half of them new ids
        coll.upsert([Record(f"i{n}", "vector", metadata={"v": 2}) for n in range(275, 325)], {"shared": replaced})
        model.update({f"i{n}": replaced[n - 275] for n in range(275, 325)})
        assert coll.remove(["i3", "i4", "i3", "nope"]) == 2
        del model["i3"], model["i4"]
        queries = random_unit_vectors(rng, 8, DIM)
        hits = coll.search("shared", queries, 10)
        assert found_ids(hits) == exact(model, queries, 10)
        for row, query in zip(hits, queries):  # scores are the inner products
            np.testing.assert_allclose([h.score for h in row], [model[h.record.item_id] @ query for h in row],
                                       rtol=1e-5, atol=1e-5)
        assert len(coll) == len(model) == coll.vector_count("shared") == 323
        assert coll.get("i300").metadata == {"v": 2} and coll.get("i3") is None
        assert sorted(r.item_id for r in coll.records()) == sorted(model)
        assert found_ids(coll.search("shared", queries[:1], 5, exclude=["i0", exact(model, queries[:1], 1)[0][0]])) \
            == [[i for i in exact(model, queries[:1], 7)[0] if i != "i0"][1:6]]


def test_a_transaction_commits_once_or_not_at_all(place):
    rng = np.random.default_rng(1)
    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        with pytest.raises(RuntimeError), coll.transaction():
            coll.upsert([Record("lost", "vector")], {"shared": random_unit_vectors(rng, 1, DIM)})
            raise RuntimeError("interrupted")
        assert len(coll) == 0 and coll.generation == 0
        with coll.transaction():
            coll.upsert([Record("a", "vector")], {"shared": random_unit_vectors(rng, 1, DIM)})
            coll.upsert([Record("b", "vector")], {"shared": random_unit_vectors(rng, 1, DIM)})
            assert coll.remove(["a"]) == 1  # a staged item counts as present
        assert [r.item_id for r in coll.records()] == ["b"] and coll.generation == 1


def test_spaces_hold_only_the_items_given_a_vector_there(place):
    rng = np.random.default_rng(2)
    with create_collection(place, "test-model", {"shared": DIM, "image-own": 8}) as coll:
        shared, own = random_unit_vectors(rng, 20, DIM), random_unit_vectors(rng, 10, 8)
        coll.upsert([Record(f"t{n}", "text", text=f"note {n}") for n in range(10)], {"shared": shared[:10]})
        coll.upsert([Record(f"p{n}", "image", path=f"/p/{n}.jpg") for n in range(10)],
                    {"shared": shared[10:], "image-own": own})
        assert (coll.vector_count("shared"), coll.vector_count("image-own"), len(coll)) == (20, 10, 20)
        hits = coll.search("image-own", random_unit_vectors(rng, 1, 8), 15)[0]
        assert sorted(h.record.item_id for h in hits) == [f"p{n}" for n in range(10)]
        assert sum(len(records) for records, _ in coll.stored_vectors("image-own")) == 10
        with pytest.raises(CollectionError, match="unknown vector space 'nope'"):
            coll.search("nope", shared[:1], 1)


def test_vectors_of_returns_the_stored_vectors_each_space_holds(place):
    rng = np.random.default_rng(3)
    with create_collection(place, "test-model", {"shared": DIM, "image-own": 8}) as coll:
        shared, own = random_unit_vectors(rng, 6, DIM), random_unit_vectors(rng, 3, 8)
        coll.upsert([Record(f"t{n}", "text", text=f"note {n}") for n in range(3)], {"shared": shared[:3]})
        coll.upsert([Record(f"p{n}", "image", path=f"/p/{n}.jpg") for n in range(3)],
                    {"shared": shared[3:], "image-own": own})
        coll.remove(["t0"])
        got = coll.vectors_of(["t0", "t1", "p2", "nope"], "shared")
        assert sorted(got) == ["p2", "t1"]
        np.testing.assert_allclose(np.stack([got["t1"], got["p2"]]), shared[[1, 5]], atol=1e-6)
        in_own = coll.vectors_of(["t1", "p0"], "image-own")
        assert list(in_own) == ["p0"]
        np.testing.assert_allclose(in_own["p0"], own[0], atol=1e-6)
        with pytest.raises(CollectionError, match="unknown vector space 'nope'"):
            coll.vectors_of(["p0"], "nope")


# -- filters against a Python oracle ----------------------------------------------------------------------


def spelled(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def equal(stored, present: bool, value) -> bool:
    if not present:
        return False
    if value is None or isinstance(value, bool):
        return stored is value
    if is_number(value):
        return (is_number(stored) and stored == value) or (isinstance(stored, str) and spelled(stored) == value)
    return stored == value if isinstance(stored, str) else is_number(stored) and stored == spelled(value)


def in_range(stored, present: bool, compare, value) -> bool:
    bound = value if is_number(value) else spelled(value)
    if not present:
        return False
    if not math.isnan(bound):
        number = stored if is_number(stored) else spelled(stored) if isinstance(stored, str) else math.nan
        return not math.isnan(number) and compare(number, bound)
    return isinstance(stored, str) and compare(stored, value)


COMPARE = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def oracle(record: Record, where: dict) -> bool:
    """The filter rules of index/where.py, read plainly."""
    for key, condition in where.items():
        if key in ("$and", "$or"):
            results = [oracle(record, part) for part in condition]
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        if key == "$not":
            if oracle(record, condition):
                return False
            continue
        if key == "path_prefix":
            if not (record.path or "").startswith(condition) or record.path is None:
                return False
            continue
        if key in ("modality", "path"):
            stored = getattr(record, key)
            present = stored is not None
        else:
            present = key in record.metadata
            stored = record.metadata.get(key)
        ops = condition if isinstance(condition, dict) and condition else {"$eq": condition}
        for op, value in ops.items():
            if op == "$eq" and not equal(stored, present, value):
                return False
            if op == "$ne" and equal(stored, present, value):
                return False
            if op == "$in" and not any(equal(stored, present, v) for v in value):
                return False
            if op == "$nin" and any(equal(stored, present, v) for v in value):
                return False
            if op in COMPARE and not in_range(stored, present, COMPARE[op], value):
                return False
    return True


def varied_records(n: int) -> list[Record]:
    tags = ["cat", "dog", "3", "3.0", 3, 7.5, True, False, None, "b_c%", "ünï"]
    records = []
    for i in range(n):
        metadata = {"bucket": i % 100, "tag": tags[i % len(tags)]}
        if i % 3:
            metadata["year"] = str(1990 + i % 40) if i % 2 else 1990 + i % 40  # CSV text or number
        if i % 7 == 0:
            metadata["nested"] = {"x": i}
        records.append(Record(f"r{i}", "image" if i % 4 else "text", path=f"/d/{'a_b' if i % 5 else 'ab'}/{i}.jpg"
                              if i % 6 else None, metadata=metadata))
    return records


WHERES = [
    {"bucket": 7},  # 1%
    {"bucket": {"$lt": 10}},  # 10%
    {"bucket": {"$gte": 25, "$lt": 75}},  # 50%
    {"tag": 3}, {"tag": "3"}, {"tag": "3.0"}, {"tag": True}, {"tag": None}, {"tag": "b_c%"}, {"tag": "ünï"},
    {"tag": {"$ne": "cat"}}, {"tag": {"$nin": ["cat", 3]}}, {"tag": {"$in": ["dog", 7.5, False]}},
    {"tag": {"$gt": "c"}}, {"tag": {"$lte": 3}}, {"tag": {"$gt": "2.5"}},
    {"year": {"$gte": 2000, "$lt": 2010}}, {"year": "1999"}, {"year": {"$ne": 2001}},
    {"modality": "text"}, {"path": {"$gt": "/d/a_b"}}, {"path_prefix": "/d/a_b/"}, {"path_prefix": "/d/a%"},
    {"$or": [{"bucket": 1}, {"tag": "dog"}]}, {"$not": {"bucket": {"$lt": 90}}},
    {"$and": [{"modality": "image"}, {"$not": {"year": {"$gt": 2005}}}]}, {"missing": {"$ne": 1}}, {},
]


@pytest.fixture(scope="module", params=[*BACKENDS, "milvus-lite-json"])
def filtered(request, tmp_path_factory):
    """One collection per backend for the read-only filter tests; milvus-lite-json gives no metadata key columns
    of its own, so that its filters read the JSON fields (the path of keys past the first few)."""
    rng = np.random.default_rng(3)
    records = varied_records(1000)
    vectors = random_unit_vectors(rng, len(records), DIM)
    backend = request.param.removesuffix("-json")
    coll = create_collection(place_for(backend, tmp_path_factory.mktemp(request.param), request), "test-model",
                             {"shared": DIM})
    with pytest.MonkeyPatch.context() as patch:
        if request.param.endswith("-json"):
            patch.setattr("mmret.index.milvus.rows.SLOTS", 0)
        coll.upsert(records, {"shared": vectors})
    yield coll, records, {r.item_id: v for r, v in zip(records, vectors)}
    coll.close()


@pytest.mark.parametrize("where", WHERES, ids=[json.dumps(w, ensure_ascii=False) for w in WHERES])
def test_filters_match_the_oracle_in_find_and_search(filtered, where):
    coll, records, model = filtered
    allowed = {r.item_id for r in records if oracle(r, where)}
    assert sorted(r.item_id for r in coll.find(where)) == sorted(allowed)
    queries = np.random.default_rng(4).standard_normal((3, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert found_ids(coll.search("shared", queries, 10, where=where)) == exact(model, queries, 10, allowed)


@pytest.mark.parametrize("where, message", [
    ({"$foo": 1}, "unknown filter operator '$foo'"),
    ({"tag": {"$in": 3}}, "filter 'tag': $in needs a list of values, got 3"),
    ({"tag": {"$near": 3}}, "filter 'tag': unknown operator '$near'"),
    ({"tag": [1, 2]}, "metadata filter 'tag': unsupported value type list"),
    ({"tag": {"$gt": True}}, "filter 'tag': a range bound must be a number or a text, got True"),
    ({"$or": []}, "$or needs a non-empty list of filters"),
])
def test_bad_filters_get_the_same_error(filtered, where, message):
    coll, _, _ = filtered
    with pytest.raises(CollectionError, match="^" + re.escape(f"bad search filter: {message}")):
        coll.search("shared", np.eye(1, DIM, dtype=np.float32), 1, where=where)


def test_absent_filter_keys_and_file_state(place):
    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        coll.upsert([Record("f", "image", path="/f.jpg", content_hash="h1", size=10, mtime=1.5,
                            metadata={"label": "x"})], {"shared": np.eye(1, DIM, dtype=np.float32)})
        assert coll.absent_filter_keys({"label": "x", "lable": "x", "path": "/f.jpg"}) == ["lable"]
        assert coll.file_state() == {"f": (10, 1.5, "h1")}


def test_settings_are_kept_with_the_collection(place):
    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        assert coll.setting("calibration:shared") is None
        coll.set_setting("calibration:shared", {"scale": [1.5, 2], "name": "ünï"})
    with open_collection(place) as coll:
        assert coll.setting("calibration:shared") == {"scale": [1.5, 2], "name": "ünï"}
        coll.set_setting("calibration:shared", None)
        assert coll.setting("calibration:shared") is None and coll.generation == 0


# -- model, dimension and input checks --------------------------------------------------------------------


def test_model_and_dimension_checks(place):
    rng = np.random.default_rng(5)
    create_collection(place, "model-a", {"shared": DIM}).close()
    with pytest.raises(CollectionError, match="already holds a collection"):
        create_collection(place, "model-a", {"shared": DIM})
    with pytest.raises(CollectionError, match=r"holds a collection of model 'model-a' with spaces \{'shared': 16\}, "
                                              r"not of model 'model-b'"):
        open_or_create(place, "model-b", {"shared": DIM})
    with pytest.raises(CollectionError, match=r"not of model 'model-a' with spaces \{'shared': 8\}"):
        open_or_create(place, "model-a", {"shared": 8})
    with open_or_create(place, "model-a", {"shared": DIM}) as coll:
        with pytest.raises(CollectionError, match=r"queries for space 'shared' must be a float array of shape "
                                                  r"\(q, 16\), got float32 \(1, 8\)"):
            coll.search("shared", random_unit_vectors(rng, 1, 8))
        with pytest.raises(CollectionError, match=r"vectors\['shared'\]: expected shape \(1, 16\)"):
            coll.upsert([Record("x", "vector")], {"shared": random_unit_vectors(rng, 1, 8)})
        with pytest.raises(CollectionError, match="vector of 'x' has norm 2.000000"):
            coll.upsert([Record("x", "vector")], {"shared": 2 * random_unit_vectors(rng, 1, DIM)})
        with pytest.raises(CollectionError, match="record 'x' appears twice in one batch"):
            coll.upsert([Record("x", "vector")] * 2, {"shared": random_unit_vectors(rng, 2, DIM)})
        with pytest.raises(CollectionError, match="search k must be a positive integer, got 0"):
            coll.search("shared", random_unit_vectors(rng, 1, DIM), 0)
        assert len(coll) == 0  # nothing of the refused writes was stored
    with pytest.raises(CollectionError, match="no collection here"):
        open_collection(other_place(place))


def test_reopening_finds_what_was_committed(place):
    rng = np.random.default_rng(6)
    vectors = random_unit_vectors(rng, 40, DIM)
    with create_collection(place, "model-a", {"shared": DIM}) as coll:
        coll.upsert([Record(f"i{n}", "vector", metadata={"n": n}) for n in range(40)], {"shared": vectors})
        coll.remove(["i0"])
        before = found_ids(coll.search("shared", vectors[:3], 5))
    with open_collection(place) as coll:
        assert (coll.model_id, coll.spaces, len(coll), coll.generation) == ("model-a", {"shared": DIM}, 39, 2)
        assert found_ids(coll.search("shared", vectors[:3], 5)) == before
        assert coll.get("i7").metadata == {"n": 7}


def test_optimize_builds_an_index_that_keeps_recall(place):
    rng = np.random.default_rng(7)
    middles = random_unit_vectors(rng, 20, DIM)
    points = middles[rng.integers(20, size=3050)] + 0.2 * rng.standard_normal((3050, DIM)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    vectors, queries = points[:3000], points[3000:]  # queries from the distribution of the data
    with create_collection(place, "model-a", {"shared": DIM}) as coll:
        coll.upsert([Record(f"i{n}", "vector") for n in range(3000)], {"shared": vectors})
        coll.remove([f"i{n}" for n in range(100)])
        report = coll.optimize(factory="HNSW32", target_recall=0.95)["shared"]
        assert report["vectors"] == 2900 and report["factory"] == "HNSW32" and report["recall@10"] >= 0.95
        built = coll.built_index("shared")
        assert isinstance(built, BuiltIndex) and built.factory == "HNSW32"
        assert (built.params, built.recall) == (report["params"], report["recall@10"])
        model = {f"i{n}": vectors[n] for n in range(100, 3000)}
        found = found_ids(coll.search("shared", queries, 10))
        truth = exact(model, queries, 10)
        assert np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)]) >= 0.9
        exhaustive = found_ids(coll.search("shared", queries, 10, params=SearchParams(ef_search=2900)))
        assert exhaustive == truth


# -- the command line on real images ----------------------------------------------------------------------


def test_index_twice_and_search_from_the_command_line(run, tmp_path, data_dir):
    """Real photos through `mmret index` (twice: the second run skips them all) and `mmret search` into a Milvus
    Lite collection; the ranking is the one a folder collection gives for the same files and query."""
    if reason := _milvus_lite_missing():
        pytest.skip(reason)
    folder = tmp_path / "photos"
    folder.mkdir()
    for image in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:6]:
        shutil.copy(image, folder)
    results = {}
    for place in (tmp_path / "photos.db", tmp_path / "photos-folder"):
        code, out, err = run("index", folder, "--collection", place)
        assert code == 0 and "6 added, 0 updated, 0 unchanged" in out, err
        code, out, err = run("index", folder, "--collection", place)
        assert code == 0 and "0 added, 0 updated, 6 unchanged" in out, err
        code, out, err = run("search", "a dog running on grass", "--collection", place, "--json", "-k", "4")
        assert code == 0, err
        results[place.name] = json.loads(out)["results"]
    milvus, embedded = results["photos.db"], results["photos-folder"]
    assert [row["id"] for row in milvus] == [row["id"] for row in embedded] and len(milvus) == 4
    np.testing.assert_allclose([row["score"] for row in milvus], [row["score"] for row in embedded], atol=1e-4)


# -- words ---------------------------------------------------------------------------------------------------

WORD_TEXTS = {"a": "a red car on the road", "b": "a red bike", "c": "green trees", "d": "blue sea"}


def test_keyword_search_finds_the_oracles_items_or_is_refused_with_the_reason(place):
    from mmret.errors import BadInput
    from mmret.query.request import Query
    from mmret.query.search import search

    with create_collection(place, "test-model", {"shared": DIM}) as coll:
        coll.upsert([Record(key, "text", text=text) for key, text in WORD_TEXTS.items()],
                    {"shared": random_unit_vectors(np.random.default_rng(0), len(WORD_TEXTS), DIM)})
        if isinstance(place, str) or place.suffix == ".db":  # Milvus: no keyword index, said so; never semantic
            assert not coll.has_words()
            for mode in ("keyword", "hybrid"):
                with pytest.raises(BadInput, match=r"no keyword or hybrid search.*2\.5 or later"):
                    search(coll, None, Query(text="red", mode=mode))
            return
        assert coll.has_words()
        oracle = sorted(key for key, text in WORD_TEXTS.items() if "red" in text.split())
        assert sorted(hit.item_id for hit in coll.keyword_search("red")) == oracle
        assert [hit.item_id for hit in coll.keyword_search("red", where={"modality": "text"}, exclude=["a"])] == ["b"]
