"""`backup` while another process commits every 100 ms: each copy opens and holds exactly the items of the one
committed generation it reports, with the source's vectors; the copy shares no file with the source; a
destination that exists, or a Milvus collection, is refused."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mmret import Collection
from mmret.cli import main
from mmret.errors import BadInput, Conflict
from mmret.index.backup import backup_collection
from mmret.index.collection import Record, VectorCollection
from mmret.index.integrity import check_collection

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
DIM, FIRST = 64, 20_000

# Commit k (k = 1, 2, ...) adds item w{k} with a vector seeded by k and removes w{k-5}: generation g of the
# collection holds the first items and w{k} for g-5 < k <= g (with FIRST items made at generation 1).
WRITER = """
    import sys, time, numpy as np
    from mmret.index.collection import Record, VectorCollection
    coll = VectorCollection.open(sys.argv[1])
    for k in range(2, 10_000):
        v = np.random.default_rng(k).standard_normal((1, {dim})).astype(np.float32)
        with coll.transaction():
            coll.upsert([Record(f"w{{k}}", "text")], {{"shared": v / np.linalg.norm(v)}})
            coll.remove([f"w{{k - 5}}"])
        print(coll.generation, flush=True)
        time.sleep(0.1)
"""


def expected_writer_items(generation: int) -> set[str]:
    return {f"w{k}" for k in range(max(2, generation - 4), generation + 1)}


def writer_vector(k: int) -> np.ndarray:
    v = np.random.default_rng(k).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def busy_collection(tmp_path):
    rng = np.random.default_rng(0)
    first = rng.standard_normal((FIRST, DIM)).astype(np.float32)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"f{i}", "text") for i in range(FIRST)], {"shared": first})
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER.format(dim=DIM)), str(tmp_path / "c")],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert writer.stdout.readline()  # it committed once: it is running
        yield tmp_path / "c", first
    finally:
        writer.kill()
        writer.wait()


def test_backups_taken_while_a_process_commits_hold_one_generation_whole(busy_collection, tmp_path):
    source, first = busy_collection
    seen = []
    for trial in range(4):
        dest = tmp_path / f"backup{trial}"
        generation = backup_collection(source, dest)
        seen.append(generation)
        with VectorCollection.open(dest) as copy:
            assert copy.generation == generation
            ids = {record.item_id for record in copy.records()}
            assert ids == {f"f{i}" for i in range(FIRST)} | expected_writer_items(generation)
            assert copy.vector_count("shared") == len(ids)
            stored = copy.vectors_of(ids, "shared")
            for name in expected_writer_items(generation):
                assert np.allclose(stored[name], writer_vector(int(name[1:])), atol=1e-6)
            some = [f"f{i}" for i in range(0, FIRST, 997)]
            assert np.allclose(np.stack([stored[name] for name in some]), first[::997], atol=1e-6)
            hits = copy.search("shared", first[:3], k=1)
            assert [h[0].record.item_id for h in hits] == ["f0", "f1", "f2"]
        assert all(os.stat(file).st_nlink == 1 for file in dest.iterdir())
        assert check_collection(dest) == []
        time.sleep(0.15)
    assert len(set(seen)) == len(seen)  # the writer went on committing between backups
    assert seen[-1] > seen[0]


def test_a_backup_is_refused_where_something_exists_or_the_collection_is_milvus(tmp_path):
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 4}) as coll:
        coll.upsert([Record("a", "text")], {"shared": np.eye(1, 4, dtype=np.float32)})
    (tmp_path / "taken").mkdir()
    with pytest.raises(Conflict, match="taken: already exists"):
        Collection.open(tmp_path / "c", create=False).backup(tmp_path / "taken")
    assert not list((tmp_path / "taken").iterdir())
    pytest.importorskip("pymilvus")
    milvus = Collection.create_for_vectors(tmp_path / "m.db", "m", {"shared": 4})
    milvus.add_vectors(np.eye(1, 4, dtype=np.float32), ids=["a"])
    with pytest.raises(BadInput, match="backup is for embedded collections"):
        milvus.backup(tmp_path / "b")


def test_the_backup_command_makes_a_copy_that_opens(tmp_path, capsys):
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 4}) as coll:
        coll.upsert([Record(f"a{i}", "text") for i in range(3)], {"shared": np.eye(3, 4, dtype=np.float32)})
        coll.optimize(factory="HNSW8")
    assert main(["backup", "--collection", str(tmp_path / "c"), str(tmp_path / "b")]) == 0
    assert "at generation 2" in capsys.readouterr().out
    with VectorCollection.open(tmp_path / "b") as copy:
        assert sorted(r.item_id for r in copy.records()) == ["a0", "a1", "a2"]
        assert copy.built_index("shared").factory == "HNSW8"
        assert copy.search("shared", np.eye(1, 4, dtype=np.float32), k=1)[0][0].record.item_id == "a0"
    assert main(["backup", "--collection", str(tmp_path / "c"), str(tmp_path / "b")]) == 4
