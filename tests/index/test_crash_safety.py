"""A process SIGKILLed mid-commit, mid-optimize, or at a random moment of a stream of commits leaves the last
committed state, and the next open removes what the dead process left behind."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mmret.index.collection import Record, VectorCollection

from ..vectors import random_unit_vectors

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def run(script, **kwargs):
    env = {**os.environ, "PYTHONPATH": os.path.abspath(SRC)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], env=env, **kwargs)


def state(coll):
    query = np.eye(1, 8, dtype=np.float32)
    return (coll.generation, len(coll), coll.vector_count("shared"), sorted(r.item_id for r in coll.records()),
            [(h.record.item_id, round(h.score, 5)) for h in coll.search("shared", query, k=20)[0]])


def data_files(path):
    return sorted(name for name in os.listdir(path) if name.endswith((".npy", ".faiss", ".tmp")))


@pytest.fixture
def filled(tmp_path):
    rng = np.random.default_rng(0)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": 8}) as coll:
        for start in range(0, 600, 100):
            coll.upsert([Record(f"r{i}", "text") for i in range(start, start + 100)],
                        {"shared": random_unit_vectors(rng, 100, 8)})
        coll.remove([f"r{i}" for i in range(0, 600, 9)])
        before, files = state(coll), data_files(coll.path)
    return tmp_path / "c", before, files


KILL_AT_COMMIT_POINT = """
    import os, signal, numpy as np
    from mmret.index.store import MetadataStore
    from mmret.index.collection import Record, VectorCollection
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    MetadataStore.apply = die
    coll = VectorCollection.open({path!r})
    {action}
"""


@pytest.mark.parametrize("action, writes_files", [
    ('coll.upsert([Record("late", "text")], {"shared": np.eye(1, 8, dtype=np.float32)})', True),
    ('coll.remove(["r1", "r2"])', False),  # only tombstones, which live in SQLite
    ('coll.optimize(factory="HNSW8")', True),
    ('coll.optimize(factory="Flat")', True),
])
def test_sigkill_just_before_the_commit_point_keeps_the_last_commit(filled, action, writes_files):
    path, before, files = filled
    process = run(KILL_AT_COMMIT_POINT.format(path=str(path), action=action))
    assert process.wait(timeout=120) == -signal.SIGKILL
    assert (set(data_files(path)) > set(files)) == writes_files  # what the dead process had written
    with VectorCollection.open(path) as reopened:
        assert state(reopened) == before
    assert data_files(path) == files


def test_sigkill_at_a_random_moment_of_a_commit_stream_loses_no_committed_batch(tmp_path):
    VectorCollection.create(tmp_path / "c", "m", {"shared": 8}).close()
    writer = run(f"""
        import sys, numpy as np
        from mmret.index.collection import Record, VectorCollection
        rng = np.random.default_rng(1)
        coll = VectorCollection.open({str(tmp_path / "c")!r})
        for batch in range(10_000):
            vectors = rng.standard_normal((64, 8)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            coll.upsert([Record(f"b{{batch}}-{{i}}", "text") for i in range(64)], {{"shared": vectors}})
            print(coll.generation, flush=True)
    """, stdout=subprocess.PIPE, text=True)
    committed = [writer.stdout.readline() for _ in range(40)]  # the tiered merges have run by now
    time.sleep(0.05)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=60)
    last_reported = int(committed[-1])
    with VectorCollection.open(tmp_path / "c") as reopened:
        assert reopened.generation >= last_reported
        assert len(reopened) == reopened.vector_count("shared") == 64 * reopened.generation
        batches = {r.item_id.split("-")[0] for r in reopened.records()}
        assert batches == {f"b{i}" for i in range(reopened.generation)}
        hits = reopened.search("shared", np.eye(1, 8, dtype=np.float32), k=5)[0]
        assert len(hits) == 5


HARNESS = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "crash_trials.py")


@pytest.mark.parametrize("writers, trials", [
    ("remove,optimize,import", 1),
    pytest.param("index,sync,serve,watch", 2, marks=pytest.mark.skipif(not os.environ.get("MMR_SLOW"),
                                                                reason="loads the model per trial; MMR_SLOW=1")),
])
def test_the_crash_harness_finds_every_writer_sound(data_dir, tmp_path, writers, trials):
    """A short run of benchmarks/crash_trials.py: real `mmret` writers SIGKILLed at random moments, checked
    against a complete run (the full run's figures are in benchmarks/RESULTS.md)."""
    out = tmp_path / "trials.json"
    result = subprocess.run([sys.executable, HARNESS, "--images", "32", "--index-trials", str(trials), "--trials",
                             str(trials), "--writers", writers, "--seed", "1", "--import-vectors", "2000",
                             "--out", str(out)],
                            capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, "MMR_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert [r["writer"] for r in results] == writers.split(",")
    assert all(r["survived"] == r["trials"] == trials and r["reruns_checked"] >= 1 for r in results), results


def test_the_crash_harness_finds_a_keyword_index_out_of_step_with_the_items(tmp_path, monkeypatch):
    import importlib
    import sqlite3

    monkeypatch.syspath_prepend(os.path.dirname(HARNESS))
    harness = importlib.import_module("crash_trials")
    path = tmp_path / "c"
    with VectorCollection.create(path, "m", {"shared": 8}) as coll:
        coll.upsert([Record(f"r{i}", "text", text=f"word{i} accordion{'s' * i}") for i in range(30)],
                    {"shared": random_unit_vectors(np.random.default_rng(0), 30, 8)})
    assert harness.keyword_problem(path) is None
    with sqlite3.connect(path / "collection.sqlite") as db:
        db.execute("UPDATE words SET text = 'other' WHERE rowid IN (SELECT rowid FROM words)")
    assert "does not find it" in harness.keyword_problem(path)
    with sqlite3.connect(path / "collection.sqlite") as db:
        db.execute("DELETE FROM words WHERE rowid = (SELECT min(rowid) FROM words)")
    assert "29 rows for 30 items" in harness.keyword_problem(path)
