"""Readers searching while a writer adds and removes: every read must see one committed generation, whole.

One writer process holds the collection's writer lock (as an indexing run does) and, past the readers' end, commits
transactions that each remove 25 items and add 25 new ones, merging and rebuilding the index (HNSW) every 20
commits; so every committed generation holds exactly N items. Four reader processes keep one long-lived handle
each and search it in a loop; a read is an error when it raises, or when its result is not a whole generation:
a count that is not N, a search for k <= N that returns fewer than k distinct hits, a hit whose record is not
the item its vector was stored for, or an exact search (a filter allowing every item) for N + 10 that returns
other than N hits. A second writer
(`mmret import`) starts halfway through: it must wait for the first with a message, write nothing meanwhile,
and complete after it.

The vectors are the offline model's embeddings of caltech101 photos (made once, by `mmret index`), stored again
under new ids by the writer, so the neighbourhoods are real ones.

    flock /work/heavy.lock python benchmarks/concurrency.py --seconds 60
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
N, SWAP, K = 1000, 25, 20


def child(role: str, *args: object, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--role", role, *map(str, args)], env=ENV, text=True,
                            stdout=subprocess.PIPE, **kwargs)


def vectors_of(collection: Path) -> np.ndarray:
    from mmret.index.collection import VectorCollection

    with VectorCollection.open(collection) as coll:
        return np.concatenate([v for _, v in coll.stored_vectors("shared")])


def prepare(work: Path, images: int) -> tuple[Path, Path]:
    """A collection of N items whose vectors are real photo embeddings (with a little noise for variety)."""
    from mmret.index.collection import Record, VectorCollection

    folder = work / "images"
    folder.mkdir()
    everything = sorted((DATA / "caltech101" / "images").glob("*/*.jpg"))
    for source in everything[:: max(1, len(everything) // images)][:images]:
        (folder / f"{source.parent.name}_{source.name}").write_bytes(source.read_bytes())
    subprocess.run([sys.executable, "-m", "mmret.cli", "index", folder, "--collection", work / "photos"],
                   env=ENV, check=True, capture_output=True)
    np.save(work / "photos.npy", vectors_of(work / "photos"))
    with VectorCollection.create(work / "c", "offline-vectors", {"shared": 384}) as coll:
        coll.upsert([Record(f"g0-{i}", "vector", metadata={"row": i}) for i in range(N)],
                    {"shared": pool_rows(np.load(work / "photos.npy"), np.arange(N))})
    return work / "c", work / "photos.npy"


def pool_rows(photos: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Vector `row` of the pool: a photo embedding moved slightly, the same for the same row every time."""
    noise = np.stack([np.random.default_rng(int(r)).standard_normal(photos.shape[1]) for r in rows])
    vectors = photos[rows % len(photos)] + 0.05 * noise.astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def writer(path: str, photos: str, seconds: float) -> None:
    from mmret.index.collection import Record, VectorCollection
    from mmret.index.locking import one_writer

    pool, commits, next_row = np.load(photos), 0, N
    with one_writer(Path(path), print), VectorCollection.open(path) as coll:
        print("holding", flush=True)
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            oldest = [r.item_id for r in coll.records()][:SWAP]
            rows = np.arange(next_row, next_row + SWAP)
            with coll.transaction():
                coll.remove(oldest)
                coll.upsert([Record(f"g{commits + 1}-{r}", "vector", metadata={"row": int(r)}) for r in rows],
                            {"shared": pool_rows(pool, rows)})
            next_row += SWAP
            commits += 1
            if commits % 20 == 0:
                coll.optimize(factory="HNSW16")
        print(json.dumps({"commits": commits, "generation": coll.generation}), flush=True)


def reader(path: str, photos: str, seconds: float, seed: int) -> None:
    from mmret.index.collection import VectorCollection

    pool, rng = np.load(photos), np.random.default_rng(seed)
    stats = {"reads": 0, "errors": 0, "generations": set(), "first_errors": [], "ann_full_searches": 0, "ann_short": 0}
    coll = VectorCollection.open(path)
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        stats["reads"] += 1
        try:
            problem = one_read(coll, pool, rng, stats)
        except Exception as error:  # noqa: BLE001 -- every exception is an error of the run
            problem = f"{type(error).__name__}: {error}"
        stats["generations"].add(coll.generation)
        if problem:
            stats["errors"] += 1
            stats["first_errors"] = stats["first_errors"][:4] + [problem]
    coll.close()
    print(json.dumps({**stats, "generations": len(stats["generations"])}), flush=True)


def one_read(coll, pool: np.ndarray, rng: np.random.Generator, stats: dict) -> str | None:
    """None if what this read saw is one whole generation, else what was wrong."""
    if rng.random() < 0.05:  # exact (a filter allowing them all is searched exactly), so all N must come back
        query = pool[rng.integers(len(pool), size=1)]
        stats["ann_full_searches"] += 1
        stats["ann_short"] += len(coll.search("shared", query, k=N + 10)[0]) < N  # HNSW may not reach them all
        hits = coll.search("shared", query, k=N + 10, where={"modality": "vector"})[0]
        return None if len(hits) == N else f"exact search k={N + 10}: {len(hits)} hits, not {N}"
    if rng.random() < 0.2 and (len(coll) != N or coll.vector_count("shared") != N):
        return f"{len(coll)} items, {coll.vector_count('shared')} vectors"
    queries = pool[rng.integers(len(pool), size=2)]
    for hits in coll.search("shared", queries, k=K):
        if len({h.record.item_id for h in hits}) != K:
            return f"search k={K}: {len(hits)} hits"
        for hit in hits:
            if hit.record.item_id.split("-")[1] != str(hit.record.metadata["row"]):
                return f"{hit.record.item_id}: record of another item"
    return None


def run(seconds: float, readers: int, images: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mmret-concurrency-") as work:
        path, photos = prepare(Path(work), images)
        extra = Path(work) / "extra.npy"
        np.save(extra, pool_rows(np.load(photos), np.arange(10**6, 10**6 + 100)))
        main_writer = child("writer", path, photos, seconds + 15)  # outlives the readers
        assert main_writer.stdout.readline().strip() == "holding"
        started = time.monotonic()
        reading = [child("reader", path, photos, seconds, seed) for seed in range(readers)]
        time.sleep(seconds / 2)
        second = subprocess.Popen([sys.executable, "-m", "mmret.cli", "import", extra, "--collection", path],
                                  env=ENV, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        from mmret.index.collection import VectorCollection

        with VectorCollection.open(path) as coll:
            wrote_while_waiting = coll.get("0") is not None
        reports = [json.loads(r.communicate(timeout=seconds + 120)[0].strip().splitlines()[-1]) for r in reading]
        duration = time.monotonic() - started
        writer_report = json.loads(main_writer.communicate(timeout=120)[0].strip().splitlines()[-1])
        out, err = second.communicate(timeout=120)
        with VectorCollection.open(path) as coll:
            imported = sum(coll.get(str(i)) is not None for i in range(100))
            final = len(coll)
    return {"seconds": round(duration, 1), "readers": readers, "reads": sum(r["reads"] for r in reports),
            "errors": sum(r["errors"] for r in reports), "first_errors": [e for r in reports for e in r["first_errors"]],
            "generations_seen_min": min(r["generations"] for r in reports), "writer": writer_report,
            "ann_full_searches": sum(r["ann_full_searches"] for r in reports),
            "ann_short": sum(r["ann_short"] for r in reports),
            "second_writer": {"exit": second.returncode, "message": err.strip().splitlines()[:1],
                              "wrote_while_waiting": wrote_while_waiting, "imported_after": imported,
                              "output": out.strip()},
            "final_items": final}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["writer", "reader"], help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=60, help="length of the run (default: 60)")
    parser.add_argument("--readers", type=int, default=4, help="reader processes (default: 4)")
    parser.add_argument("--images", type=int, default=300, help="caltech101 photos embedded (default: 300)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "concurrency.json",
                        help="JSON results (default: benchmarks/out/concurrency.json)")
    args, rest = parser.parse_known_args()
    sys.path.insert(0, str(ROOT / "src"))
    if args.role == "writer":
        return writer(rest[0], rest[1], float(rest[2]))
    if args.role == "reader":
        return reader(rest[0], rest[1], float(rest[2]), int(rest[3]))
    result = run(args.seconds, args.readers, args.images)
    second = result["second_writer"]
    print(f"{'seconds':>8}{'readers':>8}{'reads':>8}{'errors':>8}{'commits':>9}{'generations/reader':>20}")
    print(f"{result['seconds']:>8}{result['readers']:>8}{result['reads']:>8}{result['errors']:>8}"
          f"{result['writer']['commits']:>9}{result['generations_seen_min']:>20}")
    for error in result["first_errors"]:
        print(f"   {error}")
    print(f"unfiltered HNSW searches for all {N} items: {result['ann_full_searches']}, "
          f"{result['ann_short']} returned fewer (not counted as errors: the exact search checks the generation)")
    print(f"second writer: {second['message']}; wrote while waiting: {second['wrote_while_waiting']}; "
          f"exit {second['exit']}, {second['imported_after']}/100 imported after; {second['output']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    sys.exit(1 if result["errors"] or second["wrote_while_waiting"] or second["exit"] else 0)


if __name__ == "__main__":
    main()
