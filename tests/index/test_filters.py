"""Filters compiled over the columnar copy: exact cases, every operator against a brute-force oracle
(hypothesis), the CLI syntax, and staying current across commits."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmret.index.collection import CollectionError, Record, VectorCollection
from mmret.index.columns import MetadataColumns
from mmret.index.filters import compile_mask, parse_filters
from mmret.index.store import Changes, MetadataStore, Row
from mmret.index.where import parse_where

from ..vectors import random_unit_vectors

RECORDS = [
    Record("a.jpg", "image", path="/d/photos/a.jpg", metadata={"label": "cat", "year": 2020, "ok": True}),
    Record("b.jpg", "image", path="/d/photos/b.jpg", metadata={"label": "dog", "year": 2021, "ok": False}),
    Record("ü/文.txt", "text", path="/d/notes/文.txt", metadata={"label": "cat", "year": 1, "nested": {"x": 1}}),
    Record("c", "audio", metadata={"label": "cat", "year": "2020", "ok": 1, "none": None, "width": "640"}),
]


@pytest.fixture
def columns(tmp_path):
    store = MetadataStore.create(tmp_path / "s.sqlite", {"generation": 0})
    store.apply([Row(i + 1, r, ()) for i, r in enumerate(RECORDS)], [], Changes({}))
    yield MetadataColumns(store)
    store.close()


def matching(where, columns):
    return np.flatnonzero(compile_mask(parse_where(where), columns)).tolist()


@pytest.mark.parametrize(
    "where, expected",
    [
        ({"label": "cat"}, [1, 3, 4]),
        ({"year": 2020}, [1, 4]),  # the text "2020" (a CSV cell) spells the number
        ({"year": "2020"}, [1, 4]),
        ({"width": 640}, [4]),
        ({"ok": True}, [1]),  # True is not the number 1
        ({"ok": False}, [2]),
        ({"ok": 1}, [4]),
        ({"none": None}, [4]),
        ({"label": "cat", "modality": "image"}, [1]),
        ({"modality": "text"}, [3]),
        ({"path_prefix": "/d/photos/"}, [1, 2]),
        ({"path": "/d/notes/文.txt"}, [3]),
        ({"label": "cow"}, []),
        ({"missing": 1}, []),
        ({}, [1, 2, 3, 4]),
        ({"year": {"$gte": 2000, "$lt": 2021}}, [1, 4]),
        ({"year": {"$gt": 2020}}, [2]),
        ({"label": {"$in": ["dog", "cow"]}}, [2]),
        ({"label": {"$nin": ["dog"]}}, [1, 3, 4]),
        ({"label": {"$ne": "cat"}}, [2]),
        ({"label": {"$gte": "d"}}, [2]),  # texts compare as texts
        ({"$or": [{"label": "dog"}, {"modality": "audio"}]}, [2, 4]),
        ({"$not": {"label": "cat"}}, [2]),
        ({"$and": [{"label": "cat"}, {"$not": {"modality": "audio"}}]}, [1, 3]),
    ],
)
def test_filters_match_exactly_the_expected_items(columns, where, expected):
    assert matching(where, columns) == expected


@pytest.mark.parametrize("where, message", [
    ({"label": ["cat"]}, "unsupported value type list"),
    ({'la"bel': "cat"}, "must not contain"),
    ({"year": {"$near": 3}}, "unknown operator '\\$near'"),
    ({"$xor": []}, "unknown filter operator"),
    ({"$or": []}, "non-empty list"),
    ({"year": {"$gt": True}}, "range bound"),
    ({"label": {"$in": "cat"}}, "needs a list"),
])
def test_bad_filters_are_refused_with_the_reason(columns, where, message):
    with pytest.raises(ValueError, match=message):
        matching(where, columns)


def test_cli_syntax_ors_one_key_and_ands_keys():
    assert parse_filters([]) is None
    assert parse_filters(["folder=cats"]) == {"folder": "cats"}
    assert parse_filters(["folder=cats", "folder=dogs", "width>=640", "width<1000.5", "ok=true"]) == {
        "folder": {"$in": ["cats", "dogs"]}, "width": {"$gte": 640, "$lt": 1000.5}, "ok": True}
    assert parse_filters(["label!=cat", "label!=dog"]) == {"label": {"$nin": ["cat", "dog"]}}
    assert parse_filters(["note=a=b"]) == {"note": "a=b"}
    for bad in ("folder", "=x", "width>=1", "width>=2"):
        with pytest.raises(ValueError, match="--filter"):
            parse_filters(["width>=0", bad] if bad.startswith("width") else [bad])


VALUES = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "1", "2.0"]), st.booleans(), st.none())
CONDITIONS = st.one_of(
    VALUES,
    st.fixed_dictionaries({}, optional={"$gte": st.integers(-3, 3), "$lt": st.integers(-3, 3),
                                        "$ne": VALUES, "$in": st.lists(VALUES, max_size=3)}).filter(bool),
)
WHERES = st.recursive(
    st.dictionaries(st.sampled_from(["x", "y", "modality"]), CONDITIONS, min_size=1, max_size=2),
    lambda inner: st.one_of(st.builds(lambda w: {"$not": w}, inner),
                            st.builds(lambda ws: {"$or": ws}, st.lists(inner, min_size=1, max_size=3)),
                            st.builds(lambda ws: {"$and": ws}, st.lists(inner, min_size=1, max_size=3))),
    max_leaves=6,
)


def oracle(where, record):
    """Plain-Python semantics of a filter on one record."""
    def number(value):
        if isinstance(value, bool) or value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return None

    def equal(stored, value, present):
        if not present:
            return False
        if value is None or isinstance(value, bool) or isinstance(stored, bool) or stored is None:
            return stored is value
        if isinstance(value, str) and isinstance(stored, str) and stored == value:
            return True
        return number(stored) is not None and number(stored) == number(value)

    for key, condition in where.items():
        if key == "$not":
            ok = not oracle(condition, record)
        elif key in ("$or", "$and"):
            parts = [oracle(part, record) for part in condition]
            ok = any(parts) if key == "$or" else all(parts)
        else:
            present = key in record.metadata or key == "modality"
            stored = record.modality if key == "modality" else record.metadata.get(key)
            if not isinstance(condition, dict):
                ok = equal(stored, condition, present)
            else:
                ok = True
                for op, value in condition.items():
                    n = number(stored) if present else None
                    if op == "$gte":
                        ok &= n is not None and n >= value
                    elif op == "$lt":
                        ok &= n is not None and n < value
                    elif op == "$ne":
                        ok &= not equal(stored, value, present)
                    else:
                        ok &= any(equal(stored, v, present) for v in value)
        if not ok:
            return False
    return True


@pytest.fixture(scope="module", params=["segments", "optimized"])
def random_collection(request, tmp_path_factory):
    """300 items with random metadata in unmerged segments, or mostly in an optimized HNSW segment (where
    filters take the pre-filter path with its cache) plus one newer segment; every 7th item removed."""
    rng = np.random.default_rng(1)
    pool = [-2, -1, 0, 1, 2, 3, "a", "b", "1", "2.0", True, False, None]
    records = []
    for i in range(300):
        metadata = {key: pool[rng.integers(len(pool))] for key in ("x", "y") if rng.random() < 0.8}
        records.append(Record(f"r{i}", ["image", "text"][i % 2], metadata=metadata))
    vectors = random_unit_vectors(rng, 300, 8)
    coll = VectorCollection.create(tmp_path_factory.mktemp("f") / "c", "m", {"shared": 8})
    for start in range(0, 300, 50):  # several segments
        coll.upsert(records[start : start + 50], {"shared": vectors[start : start + 50]})
        if request.param == "optimized" and start == 200:
            coll.optimize(factory="HNSW16")
    coll.remove([f"r{i}" for i in range(0, 300, 7)])
    yield coll, vectors, records
    coll.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=WHERES, row=st.integers(0, 299), excluded=st.lists(st.integers(0, 299), max_size=5))
def test_filtered_search_equals_brute_force_at_any_selectivity(random_collection, where, row, excluded):
    coll, vectors, records = random_collection
    query = vectors[row : row + 1]
    alive = [i for i in range(300) if i % 7]
    expected_ids = [i for i in alive if oracle(where, records[i])]
    assert sorted(r.item_id for r in coll.find(where)) == sorted(f"r{i}" for i in expected_ids)
    kept = [i for i in expected_ids if i not in excluded]
    scores = vectors[kept] @ query[0]
    best = [f"r{kept[j]}" for j in np.lexsort((kept, -scores))[:10]]
    for _ in range(2):  # the second search reuses the first one's gathered vectors
        hits = coll.search("shared", query, k=10, where=where, exclude=[f"r{i}" for i in excluded])[0]
        assert [h.item_id for h in hits] == [h.record.item_id for h in hits] == best


def test_columns_follow_commits_and_absent_keys_are_named(tmp_path):
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 2}) as coll:
        coll.upsert([Record("a", "text", metadata={"w": "640"})], {"shared": np.eye(1, 2, dtype=np.float32)})
        assert [r.item_id for r in coll.find({"w": 640})] == ["a"]  # builds the column
        coll.upsert([Record("b", "text", metadata={"w": 640}), Record("a", "text", metadata={"w": 1})],
                    {"shared": np.eye(2, 2, dtype=np.float32)})
        assert [r.item_id for r in coll.find({"w": 640})] == ["b"]
        assert coll.absent_filter_keys({"w": 1, "Folder": "x", "modality": "text"}) == ["Folder"]
        with pytest.raises(CollectionError, match="bad search filter: metadata filter 'w'"):
            coll.search("shared", np.eye(1, 2, dtype=np.float32), where={"w": [1]})


def test_a_filter_is_parsed_once_then_its_mask_is_reused(tmp_path, monkeypatch):
    parsed = []
    monkeypatch.setattr("mmret.index.masks.parse_where", lambda where: parsed.append(where) or parse_where(where))
    query = np.eye(1, 2, dtype=np.float32)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 2}) as coll:
        coll.upsert([Record("a", "text", metadata={"w": 1}), Record("b", "text", metadata={"w": 2})],
                    {"shared": np.eye(2, 2, dtype=np.float32)})
        for _ in range(3):
            assert [hit.item_id for hit in coll.search("shared", query, k=2, where={"w": 2})[0]] == ["b"]
        assert [record.item_id for record in coll.find({"w": 2})] == ["b"]
    assert parsed == [{"w": 2}]
