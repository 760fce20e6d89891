"""Storage properties: a commit writes only its batch, tiered merges bound the segment count, stored dtypes,
memory-mapped opening, precomputed vectors through the API."""
import os

import numpy as np
import pytest

from mmret import Collection
from mmret.index.collection import CollectionError, Record, VectorCollection
from mmret.index.merging import MERGE_FACTOR

from ..vectors import random_unit_vectors


def files_with_identity(path):
    return {name: (os.stat(path / name).st_ino, os.stat(path / name).st_mtime_ns)
            for name in os.listdir(path) if name.endswith(".npy")}


def test_a_commit_writes_its_batch_and_touches_no_stored_file(tmp_path):
    rng = np.random.default_rng(0)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 16}) as coll:
        coll.upsert([Record(f"a{i}", "text") for i in range(5000)], {"shared": random_unit_vectors(rng, 5000, 16)})
        before = files_with_identity(coll.path)
        coll.upsert([Record(f"b{i}", "text") for i in range(10)] + [Record("a3", "text")],
                    {"shared": random_unit_vectors(rng, 11, 16)})
        coll.remove(["a4"])
        after = files_with_identity(coll.path)
        assert {name: after[name] for name in before} == before  # nothing stored was rewritten
        new = sorted(set(after) - set(before))
        assert new == [f"shared.g{coll.generation - 1:06d}-0.ids.npy", f"shared.g{coll.generation - 1:06d}-0.npy"]
        assert np.load(coll.path / new[1]).shape == (11, 16)
        assert len(coll) == coll.vector_count("shared") == 5009


def test_tiered_merges_keep_few_segments_and_every_vector(tmp_path):
    rng = np.random.default_rng(1)
    vectors = random_unit_vectors(rng, 200 * 5, 16)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 16}) as coll:
        for batch in range(200):
            coll.upsert([Record(f"r{batch}-{i}", "text") for i in range(5)], {"shared": vectors[5 * batch: 5 * batch + 5]})
            assert coll.segment_count("shared") < 3 * MERGE_FACTOR
        coll.remove([f"r{b}-0" for b in range(200)])
        assert coll.vector_count("shared") == 800
        query = vectors[7:8]
        hits = coll.search("shared", query, k=3)[0]
        assert hits[0].record.item_id == "r1-2" and hits[0].score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("dtype, tolerance, bytes_per_value", [("float16", 2e-3, 2), ("int8", 3e-2, 1)])
def test_compact_storage_dtypes_keep_rankings_close(tmp_path, dtype, tolerance, bytes_per_value):
    rng = np.random.default_rng(2)
    vectors, queries = random_unit_vectors(rng, 2000, 16), random_unit_vectors(rng, 20, 16)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 16}, vector_dtype=dtype) as coll:
        coll.upsert([Record(f"v{i}", "text") for i in range(2000)], {"shared": vectors})
        assert coll.vector_dtype == dtype
        found = coll.search("shared", queries, k=10)
        for query, hits in zip(queries, found):
            exact = vectors @ query
            for hit in hits:
                assert hit.score == pytest.approx(exact[int(hit.record.item_id[1:])], abs=tolerance)
            assert len({h.record.item_id for h in hits} & {f"v{i}" for i in np.argsort(-exact)[:10]}) >= 8
    segment = next(n for n in os.listdir(tmp_path / "c") if n.endswith("-0.npy"))
    assert np.load(tmp_path / "c" / segment, mmap_mode="r").dtype.itemsize == bytes_per_value
    with pytest.raises(CollectionError, match="vector_dtype must be one of"):
        VectorCollection.create(tmp_path / "d", "m", {"shared": 16}, vector_dtype="bf16")


def test_opening_maps_segments_instead_of_reading_them(tmp_path):
    rng = np.random.default_rng(3)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 16}) as coll:
        coll.upsert([Record(f"v{i}", "text") for i in range(300)], {"shared": random_unit_vectors(rng, 300, 16)})
    with VectorCollection.open(tmp_path / "c") as coll:
        segment = coll._space("shared").segments[0]
        # plain arrays over read-only maps of the files
        assert isinstance(segment.vectors.base, np.memmap) and isinstance(segment.ids.base, np.memmap)
        assert not segment.vectors.flags.writeable and str(segment.vectors.base.filename).endswith(".npy")


def test_add_vectors_stores_precomputed_vectors_with_metadata(tmp_path):
    rng = np.random.default_rng(4)
    vectors = random_unit_vectors(rng, 300, 16)
    np.save(tmp_path / "v.npy", vectors)
    collection = Collection.create_for_vectors(tmp_path / "c", "external-model", {"shared": 16})
    metadata = [{"id": f"doc{i}", "text": f"text {i}", "lang": ["en", "de"][i % 2]} for i in range(300)]
    assert collection.add_vectors(np.load(tmp_path / "v.npy", mmap_mode="r"), metadata=metadata, batch_size=128) == 300
    assert collection.store.get("doc5") == Record("doc5", "vector", text="text 5", metadata={"lang": "de"})
    hits = collection.store.search("shared", vectors[5:6], k=3, where={"lang": "de"})[0]
    assert hits[0].record.item_id == "doc5" and all(h.record.metadata["lang"] == "de" for h in hits)
    with pytest.raises(ValueError, match="ids: 2 entries for 300 vectors"):
        collection.add_vectors(vectors, ids=["a", "b"])
    with pytest.raises(CollectionError, match="'0' has norm 2.000000"):
        collection.add_vectors(2 * vectors)
