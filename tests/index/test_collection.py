import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmret.index.collection import CollectionError, Hit, Record, VectorCollection
from mmret.index.store import MetadataStore

from ..vectors import random_unit_vectors

SPACES = {"shared": 8, "image": 4}


def image_records(start, stop):
    return [Record(f"img{i}", "image", path=f"/p/img{i}.jpg", metadata={"group": i % 3, "even": i % 2 == 0},
                   size=i, mtime=float(i), content_hash=f"{i:064x}") for i in range(start, stop)]


def text_records(start, stop):
    return [Record(f"txt{i}", "text", text=f"caption {i}", metadata={"group": i % 3}) for i in range(start, stop)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def coll(tmp_path, rng):
    """30 images (shared + image vectors) and 20 texts (shared only)."""
    coll = VectorCollection.create(tmp_path / "c", "model-a", SPACES)
    coll.upsert(image_records(0, 30),
                {"shared": random_unit_vectors(rng, 30, 8), "image": random_unit_vectors(rng, 30, 4)})
    coll.upsert(text_records(0, 20), {"shared": random_unit_vectors(rng, 20, 8)})
    yield coll
    coll.close()


def ids(hits):
    return [hit.record.item_id for hit in hits]


def snapshot(coll, queries):
    """Everything observable about a collection, for before/after comparisons."""
    return (len(coll), coll.generation, list(coll.records()),
            {space: coll.vector_count(space) for space in coll.spaces},
            [[(h.record.item_id, round(h.score, 5)) for h in hits] for hits in coll.search("shared", queries, k=60)])


def test_search_ranks_like_brute_force_and_survives_reopen(tmp_path, rng):
    vectors = random_unit_vectors(rng, 40, 8)
    records = text_records(0, 40)
    with VectorCollection.create(tmp_path / "c", "model-a", {"shared": 8}) as coll:
        coll.upsert(records, {"shared": vectors})
    queries = random_unit_vectors(rng, 5, 8)
    with VectorCollection.open(tmp_path / "c") as coll:
        assert (coll.model_id, coll.spaces, len(coll)) == ("model-a", {"shared": 8}, 40)
        results = coll.search("shared", queries, k=7)
    for query, hits in zip(queries, results):
        scores = vectors @ query
        assert ids(hits) == [records[i].item_id for i in np.argsort(-scores)[:7]]
        np.testing.assert_allclose([h.score for h in hits], np.sort(scores)[::-1][:7], atol=1e-5)
        assert all(isinstance(h, Hit) and h.space == "shared" for h in hits)
    assert results[0][0].record == records[int(np.argmax(vectors @ queries[0]))]


def test_multiple_spaces_hold_only_the_vectors_given(coll, rng):
    assert len(coll) == 50
    assert (coll.vector_count("shared"), coll.vector_count("image")) == (50, 30)
    found = coll.search("image", random_unit_vectors(rng, 3, 4), k=100)
    assert all(len(hits) == 30 and set(ids(hits)) == {f"img{i}" for i in range(30)} for hits in found)
    coll.upsert(image_records(0, 1), {"shared": random_unit_vectors(rng, 1, 8)})  # replaced without an image vector
    assert (coll.vector_count("shared"), coll.vector_count("image")) == (50, 29)
    assert "img0" not in ids(coll.search("image", random_unit_vectors(rng, 1, 4), k=100)[0])


def test_upsert_of_a_known_id_replaces_row_and_vectors(coll, rng):
    new_vector = random_unit_vectors(rng, 1, 8)
    replacement = Record("txt3", "text", text="new caption", metadata={"group": 9})
    coll.upsert([replacement], {"shared": new_vector})
    assert len(coll) == 50 and coll.vector_count("shared") == 50
    assert coll.get("txt3") == replacement
    best = coll.search("shared", new_vector, k=1)[0][0]
    assert best.record == replacement and best.score == pytest.approx(1.0, abs=1e-5)
    assert ids(coll.search("shared", new_vector, k=60)[0]).count("txt3") == 1


def test_remove_counts_present_ids_and_they_never_come_back(coll, rng):
    assert coll.remove(["img1", "txt2", "img1", "nope"]) == 2
    assert coll.remove(["img1"]) == 0
    with pytest.raises(CollectionError, match="expected a list of item_ids"):
        coll.remove("img2")
    assert len(coll) == 48 and coll.get("img1") is None
    assert (coll.vector_count("shared"), coll.vector_count("image")) == (48, 29)
    for hits in coll.search("shared", random_unit_vectors(rng, 4, 8), k=100):
        assert len(hits) == 48 and not {"img1", "txt2"} & set(ids(hits))


def test_where_filters_metadata_and_modality_with_full_k(coll, rng):
    queries = random_unit_vectors(rng, 3, 8)
    for hits in coll.search("shared", queries, k=5, where={"group": 1, "modality": "image"}):
        assert len(hits) == 5
        assert all(h.record.modality == "image" and h.record.metadata["group"] == 1 for h in hits)
    for hits in coll.search("shared", queries, k=100, where={"even": True}):
        assert sorted(ids(hits)) == sorted(f"img{i}" for i in range(0, 30, 2))
    # a text that spells a number matches the stored number (issue 10: never silently empty)
    assert coll.search("shared", queries, k=3, where={"group": "1"}) == coll.search("shared", queries, k=3,
                                                                                   where={"group": 1})
    with pytest.raises(CollectionError, match="unsupported value type"):
        coll.search("shared", queries, where={"group": [1]})


def test_filtered_results_are_the_top_of_the_unfiltered_ranking(coll, rng):
    query = random_unit_vectors(rng, 1, 8)
    everything = coll.search("shared", query, k=100)[0]
    expected = [h.record.item_id for h in everything if h.record.metadata["group"] == 2][:4]
    assert ids(coll.search("shared", query, k=4, where={"group": 2})[0]) == expected


def test_exclude_leaves_out_the_query_item(coll, rng):
    vector = random_unit_vectors(rng, 1, 8)
    coll.upsert(text_records(3, 4), {"shared": vector})
    assert ids(coll.search("shared", vector, k=1)[0]) == ["txt3"]
    hits = coll.search("shared", vector, k=49, exclude=["txt3", "unknown"])[0]
    assert len(hits) == 49 and "txt3" not in ids(hits)
    assert coll.search("shared", vector, k=100, exclude=["txt3"], where={"modality": "text"})[0][0].record.modality == "text"


def test_k_beyond_count_returns_all_and_empty_space_returns_nothing(tmp_path, rng):
    with VectorCollection.create(tmp_path / "c", "m", SPACES) as coll:
        assert coll.search("image", random_unit_vectors(rng, 2, 4), k=5) == [[], []]
        coll.upsert(text_records(0, 3), {"shared": random_unit_vectors(rng, 3, 8)})
        assert coll.search("image", random_unit_vectors(rng, 2, 4)) == [[], []]
        assert [len(hits) for hits in coll.search("shared", random_unit_vectors(rng, 2, 8), k=50)] == [3, 3]


def test_tied_scores_are_ordered_by_insertion(tmp_path, rng):
    vector = random_unit_vectors(rng, 1, 8)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 8}) as coll:
        for i in range(6):
            coll.upsert(text_records(i, i + 1), {"shared": vector})
        assert ids(coll.search("shared", vector, k=4)[0]) == ["txt0", "txt1", "txt2", "txt3"]


def test_file_state_reports_size_mtime_and_hash(coll):
    state = coll.file_state()
    assert len(state) == 50
    assert state["img7"] == (7, 7.0, f"{7:064x}")
    assert state["txt1"] == (None, None, None)


@pytest.mark.parametrize(
    "vectors, message",
    [
        ({"shared": np.full((2, 8), np.nan, np.float32)}, "non-finite value in the vector of 'new0'"),
        ({"shared": np.eye(2, 7, dtype=np.float32)}, r"expected shape \(2, 8\)"),
        ({"shared": np.eye(3, 8, dtype=np.float32)}, r"expected shape \(2, 8\) for 2 records, got \(3, 8\)"),
        ({"shared": 2 * np.eye(2, 8, dtype=np.float32)}, "'new0' has norm 2.000000, expected L2-normalised"),
        ({"shared": np.eye(2, 8, dtype=np.int64)}, "dtype must be floating point"),
        ({"shared": np.eye(2, 8), "audio": np.eye(2, 8)}, "unknown vector space 'audio'"),
        ({"shared": np.eye(2, 8), "image": np.array([[1, 0, 0, 0], [0.5, 0, 0, 0]])}, "'img0' has norm 0.5"),
    ],
)
def test_bad_vectors_are_refused_and_nothing_is_stored(coll, rng, vectors, message):
    queries = random_unit_vectors(rng, 2, 8)
    before = snapshot(coll, queries)
    records = [Record("new0", "text"), Record("img0", "image", metadata={"changed": True})]
    with pytest.raises(CollectionError, match=message):
        coll.upsert(records, vectors)
    assert snapshot(coll, queries) == before
    with coll.transaction():  # nothing was left staged
        pass
    assert coll.generation == before[1]


def test_bad_records_are_refused(coll):
    with pytest.raises(CollectionError, match="appears twice in one batch"):
        coll.upsert([Record("x", "text"), Record("x", "text")], {})
    with pytest.raises(CollectionError, match="not JSON-serialisable"):
        coll.upsert([Record("x", "text", metadata={"when": object()})], {})
    assert coll.get("x") is None


def test_exception_in_transaction_keeps_the_previous_commit(coll, rng, tmp_path):
    queries = random_unit_vectors(rng, 3, 8)
    before = snapshot(coll, queries)
    with pytest.raises(RuntimeError, match="boom"), coll.transaction():
        coll.upsert(text_records(100, 105), {"shared": random_unit_vectors(rng, 5, 8)})
        coll.remove(["img0", "img1"])
        raise RuntimeError("boom")
    assert snapshot(coll, queries) == before
    coll.close()
    with VectorCollection.open(tmp_path / "c") as reopened:
        assert snapshot(reopened, queries) == before
        # the next commit holds only its own write
        reopened.upsert(text_records(0, 1), {"shared": random_unit_vectors(rng, 1, 8)})
        assert len(reopened) == 50 and reopened.get("txt100") is None and reopened.get("img0") is not None


def test_a_rolled_back_transaction_leaks_nothing_into_the_next_commit(coll, rng):
    with pytest.raises(RuntimeError), coll.transaction():
        coll.remove(["img0"])
        raise RuntimeError("boom")
    coll.upsert(text_records(300, 301), {"shared": random_unit_vectors(rng, 1, 8)})
    assert coll.get("img0") is not None and len(coll) == 51


def test_transaction_commits_all_writes_as_one_generation(coll, rng):
    generation = coll.generation
    before_files = data_files(coll.path)
    with coll.transaction():
        coll.upsert(text_records(100, 102), {"shared": random_unit_vectors(rng, 2, 8)})
        coll.remove(["txt100", "img0"])  # a staged item can be removed again before commit
        coll.upsert(text_records(101, 102), {"shared": random_unit_vectors(rng, 1, 8)})
        assert coll.get("txt101") is None  # reads see the last commit
    assert coll.generation == generation + 1
    assert coll.get("txt100") is None and coll.get("img0") is None and coll.get("txt101") is not None
    assert len(coll) == 50 and coll.vector_count("shared") == 50
    # one commit wrote one segment (the space that got vectors), and only it
    assert data_files(coll.path) == before_files + [f"shared.g{coll.generation:06d}-0{ext}" for ext in EXTS]


EXTS = (".ids.npy", ".npy")


def data_files(path):
    return sorted(name for name in os.listdir(path) if name.endswith((".npy", ".faiss", ".tmp")))


def test_failed_sqlite_commit_keeps_the_previous_generation(coll, rng, monkeypatch, tmp_path):
    queries = random_unit_vectors(rng, 3, 8)
    before = snapshot(coll, queries)
    files = data_files(tmp_path / "c")

    def failing_apply(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(MetadataStore, "apply", failing_apply)
    with pytest.raises(CollectionError, match="commit failed and was undone .*generation 2, is intact.*disk full"):
        coll.upsert(text_records(100, 110), {"shared": random_unit_vectors(rng, 10, 8)})
    monkeypatch.undo()
    assert snapshot(coll, queries) == before
    assert data_files(tmp_path / "c") == files
    coll.upsert(text_records(100, 101), {"shared": random_unit_vectors(rng, 1, 8)})  # still writable
    assert len(coll) == 51


def test_kill_between_faiss_files_and_sqlite_commit(coll, rng, tmp_path):
    queries = random_unit_vectors(rng, 3, 8)
    before = snapshot(coll, queries)
    files = data_files(tmp_path / "c")
    coll.close()
    script = textwrap.dedent(f"""
        import os, numpy as np
        from mmret.index.collection import Record, VectorCollection
        from mmret.index.store import MetadataStore
        MetadataStore.apply = lambda *args, **kwargs: os._exit(17)
        coll = VectorCollection.open({str(tmp_path / "c")!r})
        coll.upsert([Record("late", "text")], {{"shared": np.eye(1, 8, dtype=np.float32)}})
    """)
    assert subprocess.run([sys.executable, "-c", script], check=False, timeout=60).returncode == 17
    stale = before[1] + 1
    assert f"shared.g{stale:06d}-0.npy" in data_files(tmp_path / "c")
    with VectorCollection.open(tmp_path / "c") as reopened:
        assert snapshot(reopened, queries) == before
        assert reopened.get("late") is None
    assert data_files(tmp_path / "c") == files


def test_open_removes_leftovers_but_not_foreign_files(coll, tmp_path):
    directory = tmp_path / "c"
    generation = coll.generation
    files = data_files(directory)
    for name in (f"shared.g{generation + 3:06d}-0.npy", f"image.g{generation:06d}-0.ids.npy.tmp",
                 "shared.g000000.faiss", f"shared.g{generation + 1:06d}.faiss"):
        (directory / name).write_bytes(b"junk")
    (directory / "other.g000001-0.npy").write_bytes(b"not ours")
    coll.close()
    VectorCollection.open(directory).close()
    assert data_files(directory) == sorted([*files, "other.g000001-0.npy"])


def test_a_second_handle_sees_each_commit_and_writes_on_top_of_the_last(coll, rng, tmp_path):
    other = VectorCollection.open(tmp_path / "c")
    assert list(other.records()) == list(coll.records())
    coll.upsert(text_records(200, 201), {"shared": random_unit_vectors(rng, 1, 8)})
    assert other.vector_count("shared") == len(other) == 51 and other.generation == coll.generation
    assert other.remove(["img0"]) == 1  # staged on the older view, applied on top of the newer commit
    assert coll.get("img0") is None and coll.get("txt200") is not None
    assert len(coll) == coll.vector_count("shared") == 50
    other.close()


def test_create_refuses_an_existing_collection(coll, tmp_path):
    with pytest.raises(CollectionError, match="already holds a collection"):
        VectorCollection.create(tmp_path / "c", "model-a", SPACES)


def test_open_or_create_refuses_another_model_or_dimension(coll, tmp_path):
    coll.close()
    with pytest.raises(CollectionError, match="model 'model-a'.*model 'model-b'"):
        VectorCollection.open_or_create(tmp_path / "c", "model-b", SPACES)
    with pytest.raises(CollectionError, match="'image': 4.*'image': 5"):
        VectorCollection.open_or_create(tmp_path / "c", "model-a", {"shared": 8, "image": 5})
    with VectorCollection.open_or_create(tmp_path / "c", "model-a", dict(SPACES)) as same:
        assert len(same) == 50
    with VectorCollection.open_or_create(tmp_path / "new", "model-b", {"shared": 2}) as created:
        assert (created.model_id, created.spaces, len(created)) == ("model-b", {"shared": 2}, 0)


def test_open_refuses_missing_foreign_and_newer_collections(tmp_path):
    with pytest.raises(CollectionError, match="no collection here"):
        VectorCollection.open(tmp_path / "absent")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "collection.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CollectionError, match="not a collection database"):
        VectorCollection.open(tmp_path / "junk")
    VectorCollection.create(tmp_path / "new", "m", {"shared": 2}).close()
    store = MetadataStore(tmp_path / "new" / "collection.sqlite")
    store.set_meta({"format_version": 99})
    store.close()
    with pytest.raises(CollectionError, match="format version 99 is newer"):
        VectorCollection.open(tmp_path / "new")


def test_open_refuses_an_index_that_disagrees_with_the_rows(coll, tmp_path):
    coll.close()
    os.remove(tmp_path / "c" / "image.g000001-0.npy")
    with pytest.raises(CollectionError, match=r"image\.g000001-0\.npy: cannot load a segment of space 'image'"):
        VectorCollection.open(tmp_path / "c")
    np.save(tmp_path / "c" / "image.g000001-0.npy", np.zeros((29, 4), np.float32))
    with pytest.raises(CollectionError, match=r"expected 30 vectors of dimension 4"):
        VectorCollection.open(tmp_path / "c")


@pytest.mark.parametrize("spaces", [{}, {"a/b": 3}, {"shared": 0}, {"shared": True}])
def test_create_refuses_bad_spaces(tmp_path, spaces):
    with pytest.raises(CollectionError):
        VectorCollection.create(tmp_path / "c", "m", spaces)
    assert not (tmp_path / "c" / "collection.sqlite").exists()


def test_search_refuses_bad_queries(coll):
    with pytest.raises(CollectionError, match=r"shape \(q, 8\)"):
        coll.search("shared", np.ones(8, np.float32))
    with pytest.raises(CollectionError, match="non-finite"):
        coll.search("shared", np.full((1, 8), np.inf, np.float32))
    with pytest.raises(CollectionError, match="unknown vector space 'audio'"):
        coll.search("audio", np.ones((1, 8), np.float32))
    with pytest.raises(CollectionError, match="positive integer"):
        coll.search("shared", np.ones((1, 8), np.float32), k=0)
