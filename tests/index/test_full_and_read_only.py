"""A collection on a full disk, a read-only mount and a folder its user may not write: reads work, a write fails
with one line naming what failed, and the last commit stays whole. Real tmpfs mounts (skipped unless root)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmret.index.collection import CollectionError, Record, VectorCollection

from ..vectors import random_unit_vectors

SRC = str(Path(__file__).resolve().parents[2] / "src")
DIM = 64


def state(coll, queries):
    return (coll.generation, sorted((r.item_id, r.text) for r in coll.records()), coll.vector_count("shared"),
            [[h.record.item_id for h in hits] for hits in coll.search("shared", queries, k=10)])


@pytest.fixture
def stored(tmpfs):
    rng = np.random.default_rng(0)
    with VectorCollection.create(tmpfs / "c", "m", {"shared": DIM}) as coll:
        for start in range(0, 600, 200):
            coll.upsert([Record(f"r{i}", "text", text=f"item {i}") for i in range(start, start + 200)],
                        {"shared": random_unit_vectors(rng, 200, DIM)})
    return tmpfs / "c", random_unit_vectors(rng, 3, DIM)


@pytest.mark.parametrize("write, failing", [
    ("commit", lambda c, rng: c.upsert([Record(f"n{i}", "text") for i in range(300)],
                                       {"shared": random_unit_vectors(rng, 300, DIM)})),
    ("commit", lambda c, rng: c.remove([f"r{i}" for i in range(0, 600, 2)])),  # SQLite alone: tombstones
    ("optimize", lambda c, rng: c.optimize(factory="Flat")),  # a merge of every segment
])
def test_a_full_disk_fails_the_write_in_one_line_and_keeps_the_last_commit(stored, fill_disk, write, failing):
    path, queries = stored
    rng = np.random.default_rng(1)
    with VectorCollection.open(path) as coll:
        before = state(coll, queries)
        filler = fill_disk(path.parent)
        with pytest.raises(CollectionError) as caught:
            failing(coll, rng)
        message = str(caught.value)
        assert "\n" not in message and caught.value.__context__ is not None
        assert message.startswith(f"{path}: {write} failed and was undone (the last commit, generation 3, is intact)")
        assert "No space left on device" in message or "database or disk is full" in message
        assert state(coll, queries) == before
        filler.unlink()
        failing(coll, rng)  # with room again, the same write succeeds
        assert coll.generation == 4
    with VectorCollection.open(path) as reopened:
        assert reopened.generation == 4 and len(reopened) == reopened.vector_count("shared")


def test_a_full_disk_loses_no_committed_batch_of_a_stream(tmpfs):
    """Commit batches until the disk is full: every batch before the failing one is stored whole."""
    rng = np.random.default_rng(2)
    committed = 0
    with VectorCollection.create(tmpfs / "c", "m", {"shared": DIM}) as coll, pytest.raises(CollectionError):
        while True:
            coll.upsert([Record(f"b{committed}-{i}", "text", text="x" * 500) for i in range(100)],
                        {"shared": random_unit_vectors(rng, 100, DIM)})
            committed += 1
    assert committed > 5
    with VectorCollection.open(tmpfs / "c") as reopened:
        assert reopened.generation == committed
        assert len(reopened) == reopened.vector_count("shared") == 100 * committed
        assert {r.item_id.split("-")[0] for r in reopened.records()} == {f"b{i}" for i in range(committed)}


#: root without the capabilities that bypass file permissions: the files' own modes apply to it
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def mmret(*args, unprivileged: bool = False):
    command = [*(UNPRIVILEGED if unprivileged else []), sys.executable, "-m", "mmret.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC},
                          timeout=120, check=False)


def test_a_read_only_mount_is_read_and_refuses_writes_in_one_line(stored, remount_read_only):
    path, queries = stored
    with VectorCollection.open(path) as coll:
        coll.optimize(factory="HNSW8")
        before = state(coll, queries)
    remount_read_only(path.parent)
    with VectorCollection.open(path) as coll:
        assert state(coll, queries) == before
        with pytest.raises(CollectionError, match=f"^{path}: cannot commit: the directory is read-only"):
            coll.remove(["r1"])
        assert state(coll, queries) == before
    info = mmret("info", "--collection", path)
    assert info.returncode == 0 and "600" in info.stdout, info.stderr
    removal = mmret("remove", "r1", "--collection", path)
    assert removal.returncode != 0 and "Traceback" not in removal.stderr
    assert removal.stderr.strip().count("\n") == 0 and "read-only" in removal.stderr


def test_a_user_without_write_permission_reads_and_is_refused_writes(stored):
    path, _ = stored
    for file in [path, *path.iterdir()]:
        file.chmod(0o555 if file.is_dir() else 0o444)
    info = mmret("info", "--collection", path, unprivileged=True)
    assert info.returncode == 0 and "600" in info.stdout, info.stderr
    removal = mmret("remove", "r1", "--collection", path, unprivileged=True)
    assert removal.returncode != 0 and "Traceback" not in removal.stderr, removal.stderr
    assert removal.stderr.strip().count("\n") == 0 and "not writable" in removal.stderr
    with VectorCollection.open(path) as coll:
        assert coll.get("r1") is not None and len(coll) == 600
