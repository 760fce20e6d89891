"""Hybrid search at scale (issue 22): keyword, hybrid and semantic search latency, and the commit time of items
with words, as the embedded collection grows.

For each size N, a collection under the offline model's id holding N random unit vectors, each item with a
synthetic text of 8 to 14 words drawn from the caption vocabulary (the words of flickr8k-500's and coco-mini's
captions, with their frequencies in those captions, so that common words such as `a` or `the` match most items as
they would in real captions), imported through `Collection.add_vectors` in commits of 65,536. Then, in one run:
  - single-query p50/p99 latency of `Collection.search(text=..., mode=...)` for semantic, keyword and hybrid
    search, the modes taking turns pass by pass, after an unmeasured pass; queries are coco-mini captions
    (descriptive, full of common words) and two-word queries of mid-frequency words. Each query text is encoded
    once and its vector reused (the encoder's cost does not grow with N and is reported on its own: the median
    time to encode one query), so the latencies are the collection's part of a search;
  - the commit time of 1,024 more items with words (median of 5).

    python benchmarks/hybrid_scale.py --sizes 10000,100000 [--queries 40]

Prints a table and writes benchmarks/out/hybrid_scale.json.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads BLAS
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import platform
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret.api import Collection

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out" / "hybrid_scale.json"
DIM, K, IMPORT_BATCH, COMMIT_BATCH, COMMITS, PASSES = 384, 10, 65_536, 1024, 5, 3
MODES = ("semantic", "keyword", "hybrid")


def captions(name: str) -> list[str]:
    records = json.loads((DATA / name / "captions.json").read_text())
    return [c for r in records for c in r["captions"]]


class Vocabulary:
    """The caption words with their frequencies; texts drawn word by word from them."""

    def __init__(self, texts: list[str]):
        counts = Counter(w for t in texts for w in re.findall(r"[a-z']+", t.lower()))
        self.words = np.array(sorted(counts))
        self.counts = np.array([counts[w] for w in self.words], dtype=np.float64)

    def texts(self, rng: np.random.Generator, n: int) -> list[str]:
        lengths = rng.integers(8, 15, size=n)
        drawn = rng.choice(self.words, size=int(lengths.sum()), p=self.counts / self.counts.sum())
        cuts = np.cumsum(lengths)[:-1]
        return [" ".join(words) for words in np.split(drawn, cuts)]

    def mid_frequency_pairs(self, rng: np.random.Generator, n: int) -> list[str]:
        """Two-word queries of words used 20 to 200 times in the captions (a `dog running`-like search)."""
        middle = self.words[(self.counts >= 20) & (self.counts <= 200)]
        return [" ".join(rng.choice(middle, size=2, replace=False)) for _ in range(n)]


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def cached_encoder(first_seconds: list[float]):
    """The offline encoder, each text encoded once (the time of those first encodings kept)."""
    from mmret.encoders.loader import load_encoder

    encoder = load_encoder("offline")
    encode, vectors = encoder.encode, {}

    def once(modality, raw, space="shared"):
        key = (modality, tuple(raw), space)
        if key not in vectors:
            started = time.perf_counter()
            vectors[key] = encode(modality, raw, space)
            first_seconds.append(time.perf_counter() - started)
        return vectors[key]

    encoder.encode = once
    return encoder


def fill(collection: Collection, vocabulary: Vocabulary, start: int, stop: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for first in range(start, stop, IMPORT_BATCH):
        last = min(first + IMPORT_BATCH, stop)
        collection.add_vectors(unit_vectors(rng, last - first), ids=[f"t{i}" for i in range(first, last)],
                               metadata=[{"text": t} for t in vocabulary.texts(rng, last - first)])


def commit_seconds(collection: Collection, vocabulary: Vocabulary, size: int) -> float:
    """Median time of COMMITS commits of COMMIT_BATCH items with words (removed again, so N stays N)."""
    rng = np.random.default_rng(size)
    times = []
    for round_ in range(COMMITS):
        ids = [f"c{round_}-{i}" for i in range(COMMIT_BATCH)]
        vectors, texts = unit_vectors(rng, COMMIT_BATCH), vocabulary.texts(rng, COMMIT_BATCH)
        started = time.perf_counter()
        collection.add_vectors(vectors, ids=ids, metadata=[{"text": t} for t in texts])
        times.append(time.perf_counter() - started)
        collection.remove(ids)
    return statistics.median(times)


def latencies(collection: Collection, queries: list[str]) -> dict[str, list[float]]:
    """Per mode, each query's median latency over PASSES passes, the modes taking turns pass by pass."""
    for query in queries[:5]:  # unmeasured: loads the model and warms the caches
        for mode in MODES:
            collection.search(text=query, k=K, mode=mode)
    seconds = {mode: [[] for _ in queries] for mode in MODES}
    for turn in range(PASSES):
        for mode in MODES[turn % len(MODES):] + MODES[:turn % len(MODES)]:
            for i, query in enumerate(queries):
                started = time.perf_counter()
                collection.search(text=query, k=K, mode=mode)
                seconds[mode][i].append(time.perf_counter() - started)
    return {mode: [statistics.median(s) for s in per_query] for mode, per_query in seconds.items()}


def percentiles(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
            "p99_ms": round(float(np.percentile(values, 99)) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="collection sizes (default: 10000,100000)")
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind (default: 40)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    vocabulary = Vocabulary(captions("flickr8k-500") + captions("coco-mini"))
    rng = np.random.default_rng(7)
    kinds = {"captions": [str(q) for q in rng.choice(captions("coco-mini"), size=args.queries, replace=False)],
             "two words": vocabulary.mid_frequency_pairs(rng, args.queries)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmret-hybrid-scale-") as work:
        encode_seconds = []
        collection, stored = Collection.open(Path(work) / "c", model=cached_encoder(encode_seconds)), 0
        for size in sorted(int(s) for s in args.sizes.split(",")):
            started = time.perf_counter()
            fill(collection, vocabulary, stored, size, seed=size)
            stored = size
            row = {"items": size, "import_s": round(time.perf_counter() - started, 1),
                   "commit_1024_s": round(commit_seconds(collection, vocabulary, size), 3)}
            for kind, queries in kinds.items():
                row[kind] = {mode: percentiles(s) for mode, s in latencies(collection, queries).items()}
            rows.append(row)
            print_row(row)
            write(args.out, rows, args.queries, encode_seconds, len(vocabulary.words))  # each size as it is done
    print(f"\nencoding one query text (not in the latencies above): median "
          f"{statistics.median(encode_seconds) * 1000:.1f} ms")


def write(out: Path, rows: list[dict], queries: int, encode_seconds: list[float], words: int) -> None:
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="minutes"), "machine": machine(),
              "commit": git_commit(), "queries": queries,
              "encode_query_ms": round(statistics.median(encode_seconds) * 1000, 1), "vocabulary_words": words,
              "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


def print_row(row: dict) -> None:
    print(f"\n{row['items']:,} items: import {row['import_s']} s, commit of 1,024 items with words "
          f"{row['commit_1024_s'] * 1000:.0f} ms (median of {COMMITS})")
    print(f"{'queries':<12}{'mode':<10}{'p50 ms':>9}{'p99 ms':>9}{'p50 / semantic':>16}")
    for kind in ("captions", "two words"):
        semantic = row[kind]["semantic"]["p50_ms"]
        for mode in MODES:
            figures = row[kind][mode]
            print(f"{kind:<12}{mode:<10}{figures['p50_ms']:>9}{figures['p99_ms']:>9}"
                  f"{figures['p50_ms'] / semantic:>15.2f}x")


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"


def git_commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


if __name__ == "__main__":
    main()
