"""Writers in several processes: creating one collection at once is atomic (one creates it, the others open it
or are told it exists), a second indexing or import run waits for the first with a message before it reads
what to do, and an add() with an unusable manifest creates nothing."""
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mmret import Collection
from mmret.data.sources import SourceError
from mmret.encoders.base import SHARED, Encoder
from mmret.index.collection import CollectionError, Record, VectorCollection
from mmret.index.locking import one_writer

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
PROCESSES = 3


class Lengths(Encoder):
    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("text",), {SHARED: 2}, "lengths-test"

    def embed_prepared(self, modality, batch):
        vectors = np.array([[len(t), 1.0] for t in batch], dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


def create_at_once(path, barrier, results, how):
    barrier.wait()
    try:
        if how == "create":
            coll = VectorCollection.create(path, "m", {"shared": 4})
        else:
            coll = VectorCollection.open_or_create(path, "m", {"shared": 4})
        coll.upsert([Record(f"from{os.getpid()}", "text")], {"shared": np.eye(1, 4, dtype=np.float32)})
        coll.close()
        results.put("ok")
    except CollectionError as error:
        results.put(str(error))
    except Exception as error:  # noqa: BLE001 -- any other error is what this test looks for
        results.put(f"UNEXPECTED {type(error).__name__}: {error}")


@pytest.mark.parametrize("how", ["create", "open_or_create"])
def test_processes_creating_one_collection_at_once(tmp_path, how):
    context = multiprocessing.get_context("fork")
    for trial in range(8):
        path = tmp_path / f"c{trial}"
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        workers = [context.Process(target=create_at_once, args=(path, barrier, results, how))
                   for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        outcomes = sorted(results.get(timeout=60) for _ in workers)
        for worker in workers:
            worker.join(timeout=60)
        if how == "create":
            assert outcomes == sorted(["ok"] + [f"{path}: already holds a collection"] * (PROCESSES - 1))
        else:
            assert outcomes == ["ok"] * PROCESSES
        with VectorCollection.open(path) as coll:
            assert len(coll) == coll.vector_count("shared") == (1 if how == "create" else PROCESSES)
        assert not (path / "collection.sqlite.tmp").exists()


IMPORT = """
    import sys, numpy as np
    from mmret import Collection
    vectors = np.eye(3, 4, dtype=np.float32)
    print(Collection.open(sys.argv[1], create=False).add_vectors(vectors, ids=["a", "b", "c"]), flush=True)
"""


def test_a_second_run_waits_for_the_first_with_a_message(tmp_path):
    Collection.create_for_vectors(tmp_path / "c", "m", {"shared": 4})
    with one_writer(tmp_path / "c", on_wait=pytest.fail):  # this process is the first run
        second = subprocess.Popen([sys.executable, "-c", textwrap.dedent(IMPORT), str(tmp_path / "c")],
                                  env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while "waiting for another writer" not in (line := second.stderr.readline()):
            assert line and time.monotonic() < deadline, "no waiting message"
        assert f"waiting for another writer (pid {os.getpid()}) to finish" in line
        time.sleep(0.5)
        assert second.poll() is None
        with VectorCollection.open(tmp_path / "c") as coll:
            assert len(coll) == 0  # it waited before writing anything
    assert second.wait(timeout=60) == 0
    assert second.stdout.read().strip() == "3"
    with VectorCollection.open(tmp_path / "c") as coll:
        assert sorted(r.item_id for r in coll.records()) == ["a", "b", "c"]


@pytest.mark.parametrize("content, reason", [
    (b"name,caption\nx,a red car\n", "needs a 'path' or 'text' column"),
    (b"{not json\n", "not a JSONL manifest"),
])
def test_add_with_an_unusable_manifest_creates_nothing(tmp_path, content, reason):
    manifest = tmp_path / ("rows.csv" if content.startswith(b"name") else "rows.jsonl")
    manifest.write_bytes(content)
    collection = Collection.open(tmp_path / "c", Lengths())
    with pytest.raises(SourceError, match=f"{manifest}: .*{reason}"):
        collection.add([manifest])
    assert not (tmp_path / "c").exists()
