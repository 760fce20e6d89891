"""A long-lived handle reads one committed generation whole while another process commits: a writer process
keeps exactly N items (each commit swaps some for new ones, some commits merge and rebuild the index), so any
read mixing two generations shows up as a count or a hit list that is not N."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np

from mmret.index.collection import Record, VectorCollection

from ..vectors import random_unit_vectors

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
N, DIM = 60, 8

WRITER = """
    import sys, numpy as np
    from mmret.index.collection import Record, VectorCollection
    rng = np.random.default_rng(2)
    coll = VectorCollection.open(sys.argv[1])
    def unit(n):
        v = rng.standard_normal((n, {dim})).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    for step in range(int(sys.argv[2])):
        ids = [r.item_id for r in coll.records()]
        with coll.transaction():
            coll.remove(ids[:15])
            coll.upsert([Record(f"s{{step}}-{{i}}", "text") for i in range(15)], {{"shared": unit(15)}})
        if step % 7 == 6:
            coll.optimize(factory="HNSW8" if step % 2 else "Flat")
    print("done", coll.generation, flush=True)
"""


def test_a_reader_never_mixes_generations_while_another_process_commits(tmp_path):
    rng = np.random.default_rng(0)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"first{i}", "text") for i in range(N)], {"shared": random_unit_vectors(rng, N, DIM)})
    reader = VectorCollection.open(tmp_path / "c")
    assert reader.search("shared", random_unit_vectors(rng, 1, DIM), k=N)  # loaded before the writer starts
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER.format(dim=DIM)), str(tmp_path / "c"), "60"],
                              env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE, text=True)
    generations, reads = set(), 0
    while writer.poll() is None or reads == 0:
        hits = reader.search("shared", random_unit_vectors(rng, 2, DIM), k=N + 5)
        assert [len(h) for h in hits] == [N, N]
        assert len({hit.item_id for hit in hits[0]}) == N
        assert len(reader) == N == reader.vector_count("shared")
        generations.add(reader.generation)
        reads += 1
    assert writer.wait(timeout=60) == 0, "the writer failed"
    final = int(writer.stdout.read().split()[1])
    assert reader.search("shared", random_unit_vectors(rng, 1, DIM), k=N + 5)[0] and reader.generation == final
    assert len(generations) > 5, f"only {len(generations)} generations seen in {reads} reads"
    reader.close()


def test_a_reader_holds_writers_back_only_for_the_read(tmp_path):
    """A commit waits for a running read to end, not for the reader handle to close."""
    rng = np.random.default_rng(1)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"r{i}", "text") for i in range(N)], {"shared": random_unit_vectors(rng, N, DIM)})
    reader = VectorCollection.open(tmp_path / "c")
    assert len(reader) == N
    started = time.monotonic()
    writer = subprocess.run([sys.executable, "-c", textwrap.dedent(WRITER.format(dim=DIM)), str(tmp_path / "c"), "3"],
                            env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True, timeout=60, check=False)
    assert writer.returncode == 0, writer.stderr
    assert time.monotonic() - started < 30
    assert len(reader) == N and reader.generation == 4
    reader.close()
