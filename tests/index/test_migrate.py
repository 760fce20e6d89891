"""A format version 1 collection (one FAISS IndexIDMap2 file per space, written here by hand exactly as the
code of 2026-12-01 wrote it) opens, is migrated once, and keeps every record and vector."""
import json
import os
import sqlite3

import faiss
import numpy as np

from mmret.index.collection import FORMAT_VERSION, Record, VectorCollection

VERSION_1_SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, item_id TEXT NOT NULL UNIQUE, modality TEXT NOT NULL, path TEXT,
    text TEXT, content_hash TEXT, size INTEGER, mtime REAL, metadata TEXT NOT NULL DEFAULT '{}',
    spaces TEXT NOT NULL DEFAULT '[]');
CREATE INDEX items_modality ON items(modality);
CREATE INDEX items_path ON items(path);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def write_version_1(path, vectors, generation=3):
    """Rows 1..n with shared vectors, and images (odd ids) also in an 'image' space of dimension 4."""
    path.mkdir()
    db = sqlite3.connect(path / "collection.sqlite")
    db.executescript(VERSION_1_SCHEMA)
    meta = {"format_version": 1, "model_id": "m", "spaces": {"shared": 8, "image": 4}, "generation": generation}
    db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
    rows = []
    for i in range(1, len(vectors) + 1):
        spaces = ["image", "shared"] if i % 2 else ["shared"]
        rows.append((i, f"item{i}", "image" if i % 2 else "text", None, None, None, None, None,
                     json.dumps({"n": i}), json.dumps(spaces)))
    db.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    for space, dim, keep in (("shared", 8, ids > 0), ("image", 4, ids % 2 == 1)):
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        index.add_with_ids(np.ascontiguousarray(vectors[keep, :dim]), ids[keep])
        faiss.write_index(index, str(path / f"{space}.g{generation:06d}.faiss"))


def test_version_1_collection_opens_migrated_with_all_its_vectors(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30, 8)).astype(np.float32)
    vectors[:, :4] /= np.linalg.norm(vectors[:, :4], axis=1, keepdims=True)  # the image space's 4-d vectors
    vectors[:, 4:] *= 0
    write_version_1(tmp_path / "old", vectors)
    with VectorCollection.open(tmp_path / "old") as coll:
        assert coll.generation == 4 and len(coll) == 30
        assert (coll.vector_count("shared"), coll.vector_count("image")) == (30, 15)
        query = vectors[5:6]
        hits = coll.search("shared", query, k=30)[0]
        assert [h.record.item_id for h in hits[:1]] == ["item6"]
        np.testing.assert_allclose(sorted(h.score for h in hits), np.sort(vectors @ query[0]), atol=1e-5)
        assert coll.get("item3") == Record("item3", "image", metadata={"n": 3})
        coll.upsert([Record("new", "text")], {"shared": np.eye(1, 8, dtype=np.float32)})
        coll.remove(["item1"])
    assert not any(name.endswith(".faiss") for name in os.listdir(tmp_path / "old"))
    with VectorCollection.open(tmp_path / "old") as coll:
        assert len(coll) == 30 and coll.vector_count("image") == 14
        db = sqlite3.connect(tmp_path / "old" / "collection.sqlite")
        assert json.loads(db.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()[0]) == FORMAT_VERSION
        db.close()
