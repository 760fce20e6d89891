"""The records of a served search: what reading one search's hits costs on the server's request thread.

The server searches on the collection handle's thread (serve/live.py's StoreThread) and `mmret.query` reads the
hits' records on the request thread. Side by side in one run, on one collection of --items items (k=10):

- kept: the request thread's own connection, kept from its first read (index/readers.py);
- per search: a connection opened and closed for each search's read, as hits.py did before (emulated by giving
  the handle's store a ThreadReaders that connects per read, the same SQL on the same file);
- handle thread: the read on the handle's own connection, on its thread (the floor).

Modes alternate in blocks of --block searches so that they share the machine's load. The whole served search
(search on the handle's thread, then the records on this one) is timed for kept and per search. Prints a table and
writes JSON to benchmarks/out/served_records.json.

    python benchmarks/served_records.py --items 100000 --searches 3000
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret.index.collection import Record, VectorCollection
from mmret.index.readers import ThreadReaders
from mmret.serve.live import StoreThread

OUT = Path(__file__).parent / "out"
DIM = 64
K = 10
BATCH = 20_000


class ConnectionPerRead(ThreadReaders):
    """The former way: every read on another thread opens a connection and closes it after."""

    def read(self, query):
        with closing(sqlite3.connect(self._path, isolation_level=None)) as db:
            return query(db)


def build(path: Path, items: int, rng: np.random.Generator) -> np.ndarray:
    vectors = unit_rows(rng, items)
    with VectorCollection.create(path, "bench", {"shared": DIM}) as coll:
        for start in range(0, items, BATCH):
            coll.upsert([Record(f"photos/{n:07d}.jpg", "image", path=f"/data/photos/{n:07d}.jpg",
                                metadata={"n": n, "album": f"album {n % 97}"}, size=100_000 + n, mtime=1.7e9)
                         for n in range(start, min(start + BATCH, items))], {"shared": vectors[start:start + BATCH]})
        coll.optimize("shared")
    return vectors


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def timed_us(work) -> float:
    started = time.perf_counter_ns()
    work()
    return (time.perf_counter_ns() - started) / 1000


def read_records(hits) -> list:
    return [hit.record for hit in hits]


def one_round(handle: StoreThread, query: np.ndarray, mode: str) -> dict[str, float]:
    """The times (us) of one search in `mode`: its records' read, and for kept/per search the whole served search."""
    if mode == "handle thread":
        def read_there(coll: VectorCollection) -> float:
            hits = coll.search("shared", query, K)[0]
            return timed_us(lambda: read_records(hits))

        return {"records": handle.call(read_there)}
    started = time.perf_counter_ns()
    hits = handle.call(lambda coll: coll.search("shared", query, K)[0])
    searched = time.perf_counter_ns()
    read_records(hits)
    done = time.perf_counter_ns()
    return {"records": (done - searched) / 1000, "served search": (done - started) / 1000}


def run(handle: StoreThread, queries: np.ndarray, block: int) -> dict[str, dict[str, list[float]]]:
    store = handle.store._store
    readers = {"kept": store._readers, "per search": ConnectionPerRead(store.path), "handle thread": None}
    times = {mode: {"records": [], "served search": []} for mode in readers}
    for start in range(0, len(queries), block):
        for mode, chosen in readers.items():
            if chosen is not None:
                store._readers = chosen
            for query in queries[start:start + block]:
                for part, us in one_round(handle, query[None], mode).items():
                    times[mode][part].append(us)
    store._readers = readers["kept"]
    return times


def summary(times: dict[str, dict[str, list[float]]]) -> list[dict]:
    rows = []
    for part in ("records", "served search"):
        for mode, parts in times.items():
            if parts[part]:
                values = sorted(parts[part])
                rows.append({"part": part, "mode": mode, "searches": len(values),
                             "median_us": round(statistics.median(values), 1),
                             "p90_us": round(values[int(0.9 * (len(values) - 1))], 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the collection (default: 100000)")
    parser.add_argument("--searches", type=int, default=3_000, help="searches per mode (default: 3000)")
    parser.add_argument("--block", type=int, default=100, help="searches per mode before switching (default: 100)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "collection"
        started = time.monotonic()
        vectors = build(path, args.items, rng)
        build_s = time.monotonic() - started
        queries = vectors[rng.integers(0, args.items, args.searches)] + 0.05 * unit_rows(rng, args.searches)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        handle = StoreThread(path, "bench")
        try:
            run(handle, queries[:args.block], args.block)  # warm: index loaded, item ids read, connections open
            rows = summary(run(handle, queries, args.block))
        finally:
            handle.retire()
    print(f"{args.items} items, k={K}, {args.searches} searches per mode in blocks of {args.block}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'part':<14} {'mode':<14} {'median us':>10} {'p90 us':>10}")
    for row in rows:
        print(f"{row['part']:<14} {row['mode']:<14} {row['median_us']:>10.1f} {row['p90_us']:>10.1f}")
    medians = {(row["part"], row["mode"]): row["median_us"] for row in rows}
    ratios = {part: round(medians[(part, "per search")] / medians[(part, "kept")], 2)
              for part in ("records", "served search")}
    print(f"per search / kept (medians): records {ratios['records']}x, served search {ratios['served search']}x")
    OUT.mkdir(exist_ok=True)
    out = OUT / "served_records.json"
    out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or
        platform.machine(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "items": args.items, "dim": DIM, "k": K, "searches": args.searches, "block": args.block,
        "build_s": round(build_s, 1), "load_1min": os.getloadavg()[0], "rows": rows,
        "ratios_per_search_over_kept": ratios}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
