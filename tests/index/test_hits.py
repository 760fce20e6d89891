"""Hits answer with item_ids from memory and read their records on first use, once for the whole search."""
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mmret.index.checks import DB_FILE
from mmret.index.collection import ItemGone, Record, VectorCollection, readable

from ..vectors import random_unit_vectors

DIM = 8


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    vectors = random_unit_vectors(rng, 30, DIM)
    with VectorCollection.create(tmp_path / "c", "m", {"shared": DIM}) as coll:
        coll.upsert([Record(f"i{n}", "text", text=f"text {n}", metadata={"n": n}) for n in range(30)],
                    {"shared": vectors})
    return tmp_path / "c", vectors


def test_a_hit_removed_after_its_search_says_so_and_readable_leaves_it_out(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    hits = reader.search("shared", vectors[:1], k=3)[0]
    assert hits[0].item_id == "i0"
    writer.remove(["i0"])
    with pytest.raises(ItemGone, match="'i0' was removed or replaced after the search"):
        _ = hits[0].record
    assert [h.record.metadata["n"] for h in readable(hits)] == [int(h.item_id[1:]) for h in hits[1:]]
    assert "i0" not in [h.item_id for h in reader.search("shared", vectors[:1], k=3)[0]]
    reader.close(), writer.close()


def test_records_read_at_first_use_are_those_the_search_found(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    hits = reader.search("shared", vectors[:2], k=2)
    assert hits[0][0].record.text == "text 0"  # reads both queries' rows
    writer.upsert([Record("i1", "text", text="changed")], {"shared": vectors[1:2]})
    assert hits[1][0].record.text == "text 1"
    assert reader.search("shared", vectors[1:2], k=1)[0][0].record.text == "changed"
    reader.close(), writer.close()


def test_records_can_be_read_after_the_handle_is_closed(stored):
    path, vectors = stored
    with VectorCollection.open(path) as coll:
        hits = coll.search("shared", vectors[5:6], k=2)[0]
    assert hits[0].record == Record("i5", "text", text="text 5", metadata={"n": 5})


def test_a_warm_handle_sees_each_commit_of_another_handle_at_its_next_search(stored):
    path, vectors = stored
    rng = np.random.default_rng(1)
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    reader.search("shared", vectors[:1], k=1)  # warm: later searches run on the view in memory
    for step in range(5):
        fresh = random_unit_vectors(rng, 1, DIM)
        writer.upsert([Record(f"new{step}", "text")], {"shared": fresh})
        assert reader.search("shared", fresh, k=1)[0][0].item_id == f"new{step}"
        writer.remove([f"new{step}"])
        assert reader.search("shared", fresh, k=31)[0][0].item_id != f"new{step}"
        assert len(reader.search("shared", fresh, k=31)[0]) == 30
    reader.close(), writer.close()


def test_records_can_be_read_on_another_thread(stored):
    path, vectors = stored
    with VectorCollection.open(path) as coll:
        hits = coll.search("shared", vectors[7:8], k=1)[0]
        with ThreadPoolExecutor(1) as other:
            assert other.submit(lambda: hits[0].record.text).result() == "text 7"


def test_a_filter_compiled_before_another_handle_commits_is_compiled_again(stored):
    path, vectors = stored
    reader, writer = VectorCollection.open(path), VectorCollection.open(path)
    late = {"n": {"$gte": 50}}
    reader.search("shared", vectors[:1], k=1)
    assert reader.search("shared", vectors[:1], k=5, where=late) == [[]]
    assert reader.search("shared", vectors[:1], k=5, where=late) == [[]]  # the compiled mask, in memory
    writer.upsert([Record("late", "text", metadata={"n": 60})], {"shared": vectors[3:4]})
    assert [h.item_id for h in reader.search("shared", vectors[:1], k=5, where=late)[0]] == ["late"]
    reader.close(), writer.close()


def texts(hits):
    return [hit.record.text for hit in hits]


def connections_to(path) -> int:
    """File descriptors of this process open on the collection's SQLite file (connections, change-counter reads)."""
    target = os.fspath(path / DB_FILE)
    return sum(os.path.realpath(f"/proc/self/fd/{fd}") == target for fd in os.listdir("/proc/self/fd"))


@pytest.fixture
def opened_connections(monkeypatch):
    """The SQLite connections opened during the test, counted (the real ones: `sqlite3.connect` is wrapped)."""
    opened = []
    connect = sqlite3.connect

    def counted(*args, **kwargs):
        opened.append(args[0])
        return connect(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counted)
    return opened


def test_a_thread_reading_records_keeps_one_connection_for_its_later_searches(stored, opened_connections):
    path, vectors = stored
    with VectorCollection.open(path) as coll, ThreadPoolExecutor(1) as other:
        for n in range(5):
            hits = coll.search("shared", vectors[n:n + 1], k=3)[0]
            assert other.submit(texts, hits).result()[0] == f"text {n}"
        assert len(opened_connections) == 2  # the handle's, and the other thread's at its first read


def test_the_connections_of_other_threads_close_with_the_collection(stored):
    path, vectors = stored
    coll = VectorCollection.open(path)
    searches = [coll.search("shared", vectors[n:n + 1], k=3)[0] for n in range(3)]
    own = connections_to(path)
    barrier = threading.Barrier(2, timeout=30)

    def read_on_two_threads(hits):
        barrier.wait()  # both tasks run at once, so on the pool's two threads
        return hits[0].record.text

    with ThreadPoolExecutor(2) as others:
        assert list(others.map(read_on_two_threads, searches[:2])) == ["text 0", "text 1"]
        assert connections_to(path) == own + 2
        coll.close()
        assert connections_to(path) == 0  # while the threads still run
        assert others.submit(lambda: searches[2][0].record.text).result() == "text 2"
        assert connections_to(path) == 0  # read after close on a connection of its own, closed after the read


def test_a_thread_that_ends_leaves_no_connection_open(stored):
    path, vectors = stored
    with VectorCollection.open(path) as coll:
        hits = coll.search("shared", vectors[:1], k=1)[0]
        own = connections_to(path)
        read = []
        reader = threading.Thread(target=lambda: read.append((hits[0].record.text, connections_to(path))))
        reader.start()
        reader.join()
        assert read == [("text 0", own + 1)]  # its connection was open while it ran
        assert connections_to(path) == own


def test_a_request_thread_sees_another_handles_commits_at_the_next_search(stored):
    """The server's split: the search on the handle's thread, its records read on a request thread."""
    path, vectors = stored
    writer = VectorCollection.open(path)
    with ThreadPoolExecutor(1) as handle_thread:
        reader = handle_thread.submit(VectorCollection.open, path).result()

        def search(n):
            return handle_thread.submit(reader.search, "shared", vectors[n:n + 1], 1).result()[0]

        assert search(1)[0].record.text == "text 1"
        unread = search(2)
        writer.upsert([Record("i1", "text", text="changed")], {"shared": vectors[1:2]})
        writer.remove(["i2"])
        assert search(1)[0].record.text == "changed"
        with pytest.raises(ItemGone, match="'i2'"):
            _ = unread[0].record
        assert search(2)[0].item_id != "i2"
        handle_thread.submit(reader.close).result()
    writer.close()
