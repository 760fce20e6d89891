"""The index engine at scale: commits, import, optimize, search latency/QPS/recall with and without filters,
open time and size; mmret's VectorCollection next to raw FAISS running the same index with the same parameters.

For each size N (clustered synthetic 384-d unit vectors; `--real`: the offline pack's shared-space embeddings
of the 500 flickr8k-500 photos and their 2,500 captions, replicated with noise), in one run:
  - commit time of a 1,024-item batch once N items are stored (median of 5; of N // 1,024 below 5,120 items),
    next to a v1-style commit, which re-serialised and fsynced the whole flat FAISS index of the space (measured
    here on the same N vectors);
  - bulk import time (`Collection.add_vectors`-style upserts of 65,536) and `optimize` time per index kind;
  - recall@10 against exact search, single-query p50/p99 latency and batched QPS (all queries in one call),
    after one unmeasured pass, mmret and raw FAISS taking turns query by query,
    unfiltered and with filters keeping 1% and 10% of the items, for mmret and for raw FAISS (the same index
    file, the same efSearch/nprobe, FAISS's own IndexRefineFlat re-ranking for IVF-PQ, an IDSelectorBitmap
    for filters), and for a copy of the collection whose index settings lack the filter plan that `optimize`
    measured (`fixed`: the fixed rule of collections optimized before plans), with each filtered p50 over the
    same searcher's unfiltered one; the plan and every strategy it tried are printed;
  - open time (to the first query's answer), bytes per vector on disk, peak RSS;
  - the peers (benchmarks/index_peers.py: LanceDB IVF-PQ + refine, Qdrant's local mode) on the same vectors,
    queries and filters: load+build time, recall@10, p50/p99, batched QPS, and mmret's QPS over theirs.
Single-threaded (FAISS and BLAS), as the issue's figures were. Usage:

    python benchmarks/index_scale.py --sizes 10000,100000 [--queries 200] [--kinds flat,hnsw,ivfpq] [--real]

Prints a table and writes benchmarks/out/index_scale.json (or --out NAME).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads BLAS

import argparse
import json
import platform
import resource
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from mmret.index.base import Bitmap, SearchParams
from mmret.index.checks import DB_FILE
from mmret.index.collection import Record, VectorCollection
from mmret.index.kinds import auto_factory
from mmret.index.store import MetadataStore

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "benchmarks" / "out"
DIM, K, BATCH, IMPORT_BATCH = 384, 10, 1024, 65_536
COMMITS = 5  # timed commits of BATCH items per size (fewer below COMMITS * BATCH items)
PASSES = 3  # timed passes over the queries per search; a query's latency is their median
FILTERS = {"1%": ({"bucket": 7}, lambda b: b == 7), "10%": ({"bucket": {"$lt": 10}}, lambda b: b < 10)}


def clustered(n: int, seed: int, centers: int = 2000, noise: float = 0.08) -> np.ndarray:
    middles = np.random.default_rng(12345).standard_normal((centers, DIM)).astype(np.float32)
    middles /= np.linalg.norm(middles, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        block = middles[rng.integers(centers, size=stop - start)] + noise * rng.standard_normal(
            (stop - start, DIM)).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def real_base() -> np.ndarray:
    """Offline-pack shared-space embeddings of the 500 flickr8k-500 photos and their 2,500 captions (cached in
    benchmarks/out/, as encoding them takes a minute)."""
    cache = OUT_DIR / "real_base_flickr8k500.npy"
    if cache.exists():
        return np.load(cache)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from PIL import Image

    from mmret.encoders.offline import OfflineEncoder

    data = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data")) / "flickr8k-500"
    records = json.loads((data / "captions.json").read_text())
    encoder = OfflineEncoder()
    base = np.concatenate([encoder.encode("image", [Image.open(data / r["image"]).convert("RGB") for r in records]),
                           encoder.encode("text", [c for r in records for c in r["captions"]])]).astype(np.float32)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    np.save(cache, base)
    return base


def real_replicated(n: int, seed: int) -> np.ndarray:
    """The real base embeddings (photos and captions), each replicated with small noise."""
    base = real_base()
    rng = np.random.default_rng(seed)
    out = base[rng.integers(len(base), size=n)] + 0.03 * rng.standard_normal((n, base.shape[1])).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def records(start: int, stop: int) -> list[Record]:
    return [Record(f"v{i}", "vector", metadata={"bucket": i % 100}) for i in range(start, stop)]


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def v1_commit_seconds(vectors: np.ndarray, directory: Path) -> float:
    """What a format-1 commit cost: the whole IndexIDMap2(IndexFlatIP) serialised, written and fsynced."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    started = time.perf_counter()
    with open(directory / "v1.faiss.tmp", "wb") as file:
        file.write(faiss.serialize_index(index).tobytes())
        file.flush()
        os.fsync(file.fileno())
    os.replace(directory / "v1.faiss.tmp", directory / "v1.faiss")
    seconds = time.perf_counter() - started
    (directory / "v1.faiss").unlink()
    return seconds


def exact_truth(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None) -> list[set]:
    index = faiss.IndexFlatIP(DIM)
    ids = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    index.add(vectors[ids])
    _, found = index.search(queries, K)
    return [set(ids[row].tolist()) for row in found]


def recall(found: list[list[int]], truth: list[set]) -> float:
    return float(np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth)]))


def latency(search, queries: np.ndarray) -> tuple[list[list[int]], dict]:
    """Single-query latencies, then one batched call."""
    (found, stats), = paired({"one": search}, queries, rounds=1).values()
    return found, stats


def paired(searches: dict, queries: np.ndarray, warm: bool = False,
           rounds: int = PASSES) -> dict[str, tuple[list[list[int]], dict]]:
    """Single-query latencies of several searches, each in whole passes over the queries, the searches taking
    turns pass by pass (the order rotating), so that a change of the machine's load hits them alike and neither
    always runs a query right after the other ran it (data they share would be warm in the CPU caches for the
    second). A query's latency is the median of its passes; after an unmeasured pass if `warm`; then one batched
    call each."""
    names = list(searches)
    if warm:
        for search in searches.values():
            search(queries[:, :])
            for query in queries:
                search(query[None, :])
    found = {name: [] for name in names}
    times = {name: np.zeros((rounds, len(queries))) for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            for i, query in enumerate(queries):
                result, times[name][round_, i] = timed(searches[name], query[None, :])
                if round_ == 0:
                    found[name].append(result[0])
    out = {}
    for name, search in searches.items():
        _, batch_seconds = timed(search, queries)
        times_ms = np.median(times[name], axis=0) * 1000
        out[name] = (found[name], {"p50_ms": round(float(np.percentile(times_ms, 50)), 3),
                                   "p99_ms": round(float(np.percentile(times_ms, 99)), 3),
                                   "qps_batched": round(len(queries) / batch_seconds, 1)})
    return out


def mmret_search(coll: VectorCollection, where):
    """Item ids of the hits (as a caller that needs only ids and scores gets them: records are read on use)."""
    def search(queries):
        return [[int(h.item_id[1:]) for h in hits] for hits in coll.search("shared", queries, K, where=where)]
    return search


def raw_faiss_search(kind: str, path: Path | None, vectors: np.ndarray, params: SearchParams, mask):
    """Raw FAISS on the same index file (or an in-memory flat index), the same parameters, ids = row numbers."""
    if kind == "flat":
        index = faiss.IndexFlatIP(DIM)
        index.add(vectors)
    else:
        index = faiss.read_index(str(path))
    bitmap = Bitmap(mask) if mask is not None else None
    selector = bitmap.selector if bitmap else None
    if kind == "hnsw":
        search_params = faiss.SearchParametersHNSW(efSearch=params.ef_search, sel=selector)
    elif kind == "ivfpq":
        refine = faiss.IndexRefineFlat(index, faiss.swig_ptr(vectors))
        refine.k_factor = params.shortlist / K
        index = refine
        search_params = faiss.IndexRefineSearchParameters(
            k_factor=params.shortlist / K, base_index_params=faiss.SearchParametersIVF(nprobe=params.nprobe,
                                                                                        sel=selector))
    else:
        search_params = faiss.SearchParameters(sel=selector) if selector else None

    def search(queries):
        _, found = index.search(queries, K, params=search_params)
        return [[int(i) for i in row if i >= 0] for row in found]
    search.keep = (bitmap, index)  # the selector's bits and the wrapped index must outlive the searches
    return search


def without_filter_plan(path: Path, copy: Path) -> VectorCollection:
    """A copy of the collection at `path` as a collection optimized before filter plans stores its index: the same
    files, the plan left out of the index settings."""
    shutil.copytree(path, copy)
    store = MetadataStore(copy / DB_FILE)
    built = store.get_meta("index:shared")
    store.set_meta({"index:shared": {key: value for key, value in built.items() if key != "filter_plan"}})
    store.close()
    return VectorCollection.open(copy)


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def run_size(n: int, kinds: list[str], queries: np.ndarray, make, work: Path, peers: dict[str, int | None]) -> dict:
    vectors = make(n, seed=1)
    buckets = np.arange(n) % 100
    path = work / f"c{n}"
    coll = VectorCollection.create(path, "bench", {"shared": DIM})
    first_commit = n - commit_count(n) * BATCH
    _, import_seconds = timed(bulk_import, coll, vectors[:first_commit])
    commits = []
    for start in range(first_commit, n, BATCH):
        _, seconds = timed(coll.upsert, records(start, start + BATCH), {"shared": vectors[start : start + BATCH]})
        commits.append(seconds)
    result = {"n": n, "import_seconds": round(import_seconds, 2),
              "commit_1024_ms": round(1000 * statistics.median(commits), 1), "commits_timed": len(commits),
              "v1_commit_1024_ms": round(1000 * v1_commit_seconds(vectors, work), 1),
              "segments_before_optimize": coll.segment_count("shared"), "kinds": {}}
    truths = {"none": exact_truth(vectors, queries, None)}
    truths.update({name: exact_truth(vectors, queries, keep(buckets)) for name, (_, keep) in FILTERS.items()})
    for kind in kinds:
        factory = {"flat": "Flat", "hnsw": "HNSW32", "ivfpq": auto_factory(10 ** 9, DIM).split(",")[1]}[kind]
        if kind == "ivfpq":
            factory = f"IVF{nlist_for(n)},{factory}"
        report, optimize_seconds = timed(coll.optimize, factory=factory, target_recall=0.95)
        coll.close()
        coll, open_seconds = timed(VectorCollection.open, path)
        _, first_seconds = timed(coll.search, "shared", queries[:1], K)
        built = coll.built_index("shared")
        params = SearchParams.from_dict(built.params).over(
            SearchParams(ef_search=64, nprobe=16, shortlist=100))
        row = {"factory": factory, "optimize_seconds": round(optimize_seconds, 1),
               "tuned": built.params, "tuning_recall": built.recall,
               "open_ms": round(1000 * open_seconds, 1), "first_query_ms": round(1000 * first_seconds, 1),
               "bytes_per_vector": round(directory_bytes(path) / n, 1)}
        row["filter_plan"], row["filter_trials"] = report["shared"]["filter_plan"], report["shared"]["filter_trials"]
        index_file = path / built.file if built.file else None
        fixed = without_filter_plan(path, work / f"c{n}-fixed")
        for name, where in [("none", None)] + [(name, w) for name, (w, _) in FILTERS.items()]:
            mask = None if where is None else FILTERS[name][1](buckets)
            measured = paired({"mmret": mmret_search(coll, where), "fixed": mmret_search(fixed, where),
                               "faiss": raw_faiss_search(kind, index_file, vectors, params, mask)}, queries, warm=True)
            cell = {}
            for who, (found, stats) in measured.items():
                stats["recall@10"] = round(recall(found, truths[name]), 4)
                if name != "none":
                    stats["over_unfiltered"] = round(stats["p50_ms"] / row["filter none"][who]["p50_ms"], 2)
                cell[who] = stats
            row[f"filter {name}"] = {**cell, "p50_ratio": round(cell["mmret"]["p50_ms"] / cell["faiss"]["p50_ms"], 2)}
        fixed.close()
        shutil.rmtree(work / f"c{n}-fixed")
        result["kinds"][kind] = row
        print_row(n, kind, row, report["shared"])
    coll.close()
    shutil.rmtree(path)
    result["peers"] = run_peers(n, vectors, buckets, queries, truths, work, peers)
    result["qps_ratio_at_recall_0.95"] = qps_ratios(result)
    for name, ratios in result["qps_ratio_at_recall_0.95"].items():
        print(f"{n:>9,} mmret / {name} at recall@10 >= 0.95: {ratios}")
    return result


def qps_ratios(result: dict) -> dict:
    """mmret's best unfiltered QPS at recall@10 >= 0.95 over each peer's (batched, and one query at a time)."""
    mine = [row["filter none"]["mmret"] for row in result["kinds"].values()
            if row["filter none"]["mmret"]["recall@10"] >= 0.95]
    ratios = {}
    for name, row in result["peers"].items():
        theirs = row.get("filter none")
        if mine and theirs and theirs["recall@10"] >= 0.95:
            ratios[name] = {"batched": round(max(m["qps_batched"] for m in mine) / theirs["qps_batched"], 1),
                            "single": round(theirs["p50_ms"] / min(m["p50_ms"] for m in mine), 1)}
        elif theirs:
            ratios[name] = f"not comparable: {name} reached recall@10 {theirs['recall@10']}"
    return ratios


def run_peers(n: int, vectors: np.ndarray, buckets: np.ndarray, queries: np.ndarray, truths: dict, work: Path,
              peers: dict[str, int | None]) -> dict:
    """Each peer (name -> the largest size to run it at) on the same vectors, queries and filters."""
    from index_peers import WHERES, LanceDBPeer, QdrantLocalPeer, tune

    rows = {}
    for name, largest in peers.items():
        if largest is not None and n > largest:
            rows[name] = {"skipped": f"runs up to {largest:,} items (see --peers)"}
            continue
        directory = work / f"{name}-{n}"
        peer = LanceDBPeer(directory, nlist_for(n)) if name == "lancedb" else QdrantLocalPeer(directory)
        load_seconds = peer.load(vectors, buckets)
        row = {"load_and_build_seconds": round(load_seconds, 1),
               "tuning_recall": round(tune(peer, queries, K, truths["none"], 0.95), 4)}
        row["setting"] = dict(peer.setting)
        for label, where in WHERES.items():
            found, stats = latency(lambda q, peer=peer, where=where: peer.search(q, K, where), queries)
            _, batch_seconds = timed(peer.search_batch, queries, K, where)
            stats["qps_batched"] = round(len(queries) / batch_seconds, 1)
            stats["recall@10"] = round(recall(found, truths[label]), 4)
            row[f"filter {label}"] = stats
        peer.close()
        shutil.rmtree(directory, ignore_errors=True)
        rows[name] = row
        print_peer(n, name, row)
    return rows


def commit_count(n: int) -> int:
    """How many of the size's last items arrive as timed commits of BATCH: COMMITS, or as many as fit."""
    return min(COMMITS, n // BATCH)


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part) for part in text.split(",")]
    if min(sizes) < BATCH:
        raise SystemExit(f"--sizes: each size must hold one timed commit of {BATCH:,} items, got {min(sizes):,}")
    return sizes


def nlist_for(n: int) -> int:
    return 2 ** round(np.log2(4 * np.sqrt(n)))


def print_peer(n: int, name: str, row: dict) -> None:
    print(f"\n{n:>9,} {name:<13} load+build {row['load_and_build_seconds']:>7.1f} s  setting {row['setting']} "
          f"(recall on the queries {row['tuning_recall']:.3f})")
    for label in ("none", "1%", "10%"):
        m = row[f"filter {label}"]
        print(f"{'':>17}{label:<7}{name:<13}{m['recall@10']:>10.4f}{m['p50_ms']:>9.3f}{m['p99_ms']:>9.3f}"
              f"{m['qps_batched']:>11.1f}")


def bulk_import(coll: VectorCollection, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), IMPORT_BATCH):
        stop = min(start + IMPORT_BATCH, len(vectors))
        coll.upsert(records(start, stop), {"shared": vectors[start:stop]})


def print_row(n: int, kind: str, row: dict, report: dict) -> None:
    print(f"\n{n:>9,} {kind:<6} {row['factory']:<14} optimize {row['optimize_seconds']:>7.1f} s  tuned "
          f"{row['tuned']} (sample recall {row['tuning_recall']:.3f})  open {row['open_ms']} ms, first query "
          f"{row['first_query_ms']} ms, {row['bytes_per_vector']} B/vector")
    print(f"{'':>17}filter plan: {row['filter_plan']}")
    for trial in row["filter_trials"]:
        print(f"{'':>19}tried at {trial['share']:>6.1%}: {trial['strategy']:<22} recall "
              f"{'stopped' if trial['recall'] is None else trial['recall']:<8} p50 {trial['p50_ms']:.4f} ms")
    print(f"{'':>17}{'filter':<7}{'who':<7}{'recall@10':>10}{'p50 ms':>9}{'p99 ms':>9}{'QPS batch':>11}"
          f"{'p50 ratio':>11}{'/ unfiltered':>14}")
    for name in ["none", *FILTERS]:
        cell = row[f"filter {name}"]
        for who in ("mmret", "fixed", "faiss"):
            m = cell[who]
            ratio = f"{cell['p50_ratio']:>11.2f}" if who == "mmret" else f"{'':>11}"
            over = f"{m['over_unfiltered']:>14.2f}" if "over_unfiltered" in m else ""
            print(f"{'':>17}{name:<7}{who:<7}{m['recall@10']:>10.4f}{m['p50_ms']:>9.3f}{m['p99_ms']:>9.3f}"
                  f"{m['qps_batched']:>11.1f}{ratio}{over}")


def parse_peers(text: str) -> dict[str, int | None]:
    peers = {}
    for part in filter(None, text.split(",")):
        name, _, largest = part.partition(":")
        if name not in ("lancedb", "qdrant-local"):
            raise SystemExit(f"--peers: unknown peer {name!r} (lancedb, qdrant-local)")
        peers[name] = int(largest) if largest else None
    return peers


def write_results(name: str, **fields) -> Path:
    """benchmarks/out/NAME: the run's fields with the date, machine, versions and this process's peak RSS."""
    out = OUT_DIR / name
    out.parent.mkdir(parents=True, exist_ok=True)
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)
    out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or
        platform.machine(), "python": platform.python_version(), "faiss": faiss.__version__, "dim": DIM, "k": K,
        "peak_rss_gib": round(rss_gib, 2), **fields}, indent=2) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", default="flat,hnsw,ivfpq")
    parser.add_argument("--real", action="store_true", help="offline-pack caption embeddings instead of clusters")
    parser.add_argument("--peers", default="lancedb,qdrant-local:30000",
                        help="peers to run beside mmret, each NAME or NAME:LARGEST-SIZE (default: %(default)s)")
    parser.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", default="index_scale.json", help="file name in benchmarks/out/")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    make = real_replicated if args.real else clustered
    queries = make(args.queries, seed=2)
    kinds = args.kinds.split(",")
    peers = parse_peers(args.peers)
    sizes = parse_sizes(args.sizes)
    results = []
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        for n in sizes:
            result = run_size(n, kinds, queries, make, Path(work), peers)
            print(f"\n{n:>9,} items: import {result['import_seconds']} s; commit of 1,024: {result['commit_1024_ms']} ms "
                  f"(median of {result['commits_timed']}) "
                  f"(v1-style full rewrite: {result['v1_commit_1024_ms']} ms); "
                  f"{result['segments_before_optimize']} segments before optimize")
            results.append(result)
    out = write_results(args.out, data="real-replicated" if args.real else "clustered", queries=args.queries,
                        threads=1, sizes=results)
    print(f"\npeak RSS {json.loads(out.read_text())['peak_rss_gib']} GiB; wrote {out}")


if __name__ == "__main__":
    main()
