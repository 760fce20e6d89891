"""Latency of a "more like this" query: by the item's stored vectors (`mmret search --like`, Collection.search(like=))
against re-embedding the item's file, side by side in one run on a real collection.

The collection: the 500 flickr8k-500 photos indexed with the offline model (kept in --work and reused; indexing
again skips unchanged files). Queries: --queries photos drawn with a fixed seed, each timed both ways, in
alternating order, after --warmup untimed queries:
  stored    Collection.search(like=PATH, k=10): the item's stored vector read and searched, the item left out;
  re-embed  the file read, decoded and embedded by the encoder (called directly, as the removed path did), then
            the same index search (the collection's image space, the item excluded, 4k candidates as mmret.query
            fetches for per-file results).
Both sides' top-10 ids are compared per query (they differ only if the encoder's output at the collection's
precision differs from what indexing stored).

Usage: python benchmarks/like_search.py [--queries 100] [--work DIR]   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/like_search.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from mmret import Collection
from mmret.data.decode import open_image, read_bytes
from mmret.query.per_file import best_per_file

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
K = 10
SPACE = "image"  # where an image-only query (and a photo's like-query) goes with the offline model


def re_embedded(collection: Collection, path: str) -> tuple[list[str], dict[str, float]]:
    """The removed path's work: decode and embed the file, then search the index with its vector."""
    started = time.perf_counter()
    vector = collection.encoder.encode("image", [open_image(read_bytes(path), path)], SPACE)
    embedded = time.perf_counter()
    hits = collection.store.search(SPACE, vector, 4 * K, exclude=[path])[0]
    ids = [hit.record.item_id for hit in best_per_file(hits)[:K]]
    done = time.perf_counter()
    return ids, {"total": done - started, "embed": embedded - started}


def stored(collection: Collection, path: str) -> tuple[list[str], dict[str, float]]:
    started = time.perf_counter()
    ids = [hit.record.item_id for hit in collection.search(like=path, k=K)]
    return ids, {"total": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=100, help="like-queries timed each way")
    parser.add_argument("--warmup", type=int, default=5, help="untimed queries first, each way")
    parser.add_argument("--work", type=Path, default=OUT / "like_search-collection", help="the collection's folder")
    args = parser.parse_args()
    photos = sorted(str(p) for p in (DATA / "flickr8k-500" / "images").glob("*.jpg"))
    collection = Collection.open(args.work, "offline")
    started = time.perf_counter()
    report = collection.add(photos)
    indexing = time.perf_counter() - started
    picks = np.random.default_rng(0).choice(len(photos), args.warmup + args.queries, replace=False)
    queries = [photos[i] for i in picks]
    for path in queries[:args.warmup]:
        stored(collection, path), re_embedded(collection, path)
    times: dict[str, list[dict]] = {"stored": [], "re-embed": []}
    agree = []
    for n, path in enumerate(queries[args.warmup:]):
        sides = [("stored", stored), ("re-embed", re_embedded)]
        found = {}
        for name, side in sides if n % 2 == 0 else sides[::-1]:
            found[name], measured = side(collection, path)
            times[name].append(measured)
        agree.append(len(set(found["stored"]) & set(found["re-embed"])) / K)
    median = {name: 1000 * float(np.median([t["total"] for t in rows])) for name, rows in times.items()}
    p90 = {name: 1000 * float(np.percentile([t["total"] for t in rows], 90)) for name, rows in times.items()}
    embed = 1000 * float(np.median([t["embed"] for t in times["re-embed"]]))
    ratio = median["re-embed"] / median["stored"]
    load = os.getloadavg()
    print(f"like-queries on {len(collection)} flickr8k-500 photos ({collection.store.model_id}), space {SPACE!r}, "
          f"k={K}: {args.queries} queries each way, alternating; torch threads {torch.get_num_threads()}; "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'path':<44}{'median ms':>10}{'p90 ms':>10}")
    print(f"{'stored vectors (search --like)':<44}{median['stored']:>10.2f}{p90['stored']:>10.2f}")
    print(f"{'re-embed the file, then search':<44}{median['re-embed']:>10.2f}{p90['re-embed']:>10.2f}")
    print(f"{'  of which read + decode + embed':<44}{embed:>10.2f}")
    print(f"ratio re-embed / stored (medians): {ratio:.1f}x; top-{K} overlap of the two: mean {np.mean(agree):.3f}, "
          f"min {min(agree):.1f}")
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, check=True,
                            text=True).stdout.strip()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "like_search.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "commit": commit, "torch": torch.__version__, "torch threads": torch.get_num_threads(), "load": load,
        "model": collection.store.model_id, "items": len(collection), "indexed now": report.added,
        "indexing seconds": round(indexing, 2), "space": SPACE, "k": K, "queries": args.queries,
        "median ms": median, "p90 ms": p90, "re-embed: read+decode+embed median ms": embed,
        "ratio re-embed / stored": ratio, "top-k overlap mean": float(np.mean(agree)),
        "top-k overlap min": float(min(agree))}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
