"""Composed queries on coco-mini: a query photo containing category A plus a text naming category B ("a photo of a
B") must retrieve the other photos that contain both A and B (COCO object labels).

Queries: (photo, A, B) triples with A among the photo's categories, B not, and at least one other photo holding
both; 400 drawn with a fixed seed. Gallery: the coco-mini photos that have labels (159), less the query photo.
Methods, with the offline encoder (untrained) in its shared space, as `mmret search` composes them:
  image alone, text alone, composed (the weighted sum of the two unit vectors, mmret.composed, weights 1:1),
  RRF of the image's and the text's lists (mmret.fusion.rrf).

Usage: python benchmarks/composed_queries.py   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/composed_queries.json.
"""
from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret.composed import QueryPart, compose_vector
from mmret.data.decode import open_image, read_bytes
from mmret.encoders.offline import OfflineEncoder
from mmret.eval.benchmark import REPORTED_METRICS
from mmret.eval.metrics import Ranking, mean_metrics
from mmret.fusion import rrf

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
QUERIES = 400
METRICS = ("mAP", "P@10", "R@10", "MRR")


def photos() -> tuple[list[str], list[set[str]]]:
    records = json.loads((DATA / "coco-mini" / "captions.json").read_text(encoding="utf-8"))
    labelled = [r for r in records if r.get("categories")]
    return [str(DATA / "coco-mini" / r["image"]) for r in labelled], [set(r["categories"]) for r in labelled]


def triples(categories: list[set[str]], seed: int = 0) -> list[tuple[int, str, str]]:
    names = sorted(set().union(*categories))
    candidates = [(q, a, b) for q, held in enumerate(categories) for a in sorted(held) for b in names
                  if b not in held and any(a in c and b in c for g, c in enumerate(categories) if g != q)]
    picks = np.random.default_rng(seed).choice(len(candidates), size=min(QUERIES, len(candidates)), replace=False)
    return [candidates[i] for i in sorted(picks)]


def main() -> None:
    paths, categories = photos()
    encoder = OfflineEncoder()
    images = encoder.encode("image", [open_image(read_bytes(p), p) for p in paths])
    queries = triples(categories)
    texts = {b: encoder.encode("text", [f"a photo of a {b}"])[0] for b in {b for _, _, b in queries}}
    relevance = np.array([[g != q and a in c and b in c for g, c in enumerate(categories)] for q, a, b in queries])
    exclude = np.zeros_like(relevance)
    exclude[np.arange(len(queries)), [q for q, _, _ in queries]] = True
    image_scores = np.stack([images[q] for q, _, _ in queries]) @ images.T
    text_scores = np.stack([texts[b] for _, _, b in queries]) @ images.T
    composed = np.stack([compose_vector([QueryPart("image", paths[q]), QueryPart("text", b)],
                                        np.stack([images[q], texts[b]])) for q, _, b in queries]) @ images.T
    scored = {"image alone": image_scores, "text alone": text_scores, "composed (1:1)": composed,
              "rrf": rrf([np.where(exclude, np.nan, image_scores), np.where(exclude, np.nan, text_scores)])}
    results = {}
    for name, scores in scored.items():
        found = mean_metrics(Ranking.from_scores(np.nan_to_num(scores, nan=-1.0), relevance, exclude),
                             REPORTED_METRICS)
        results[name] = {m: float(found[m]) for m in METRICS}
    print(f"coco-mini composed queries: {len(queries)} (photo with A + 'a photo of a B'), gallery {len(paths) - 1}, "
          f"mean relevant per query {relevance.sum(1).mean():.1f}")
    print(f"{'method':<16}" + "".join(f"{m:>8}" for m in METRICS))
    for name, values in results.items():
        print(f"{name:<16}" + "".join(f"{values[m]:>8.3f}" for m in METRICS))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "composed_queries.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "model": encoder.model_id, "queries": len(queries), "gallery": len(paths) - 1,
        "mean_relevant": float(relevance.sum(1).mean()), "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
