"""Composed queries on coco-mini: a query photo containing category A plus a text naming category B ("a photo of a
B") must retrieve the other photos that contain both A and B (COCO object labels).

Queries: (photo, A, B) triples with A among the photo's categories, B not, and at least one other photo holding
both; 400 drawn with a fixed seed. Gallery: the coco-mini photos that have labels (159), less the query photo.
Methods, with the offline encoder (untrained) in its shared space, as `mmret search --space shared` makes them:
  image alone, text alone, composed (the weighted sum of the two unit vectors, mmret.query.parts), RRF of the image's
  and the text's lists, and the decision-level fusions of the two lists' scores: CombSUM (min-max) and CombPROD
  (the weighted product of the min-max scores, an "AND": `--fusion combprod`). Every weighted method's image
  weight (the text's is 1) is chosen on the tune queries, those whose query photo has an even index; the table
  reports the other queries (whose photos are never a tune query's) and the tune figures beside them.

Usage: python benchmarks/composed_queries.py [--model offline|offline-lite2]   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/composed_queries.json (composed_queries-offline-lite2.json for Lite2).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret.data.decode import open_image, read_bytes
from mmret.encoders.registry import OFFLINE_MODELS
from mmret.eval.benchmark import REPORTED_METRICS
from mmret.eval.metrics import Ranking, mean_metrics
from mmret.fusion import DECISION_FUSIONS
from mmret.models import load_encoder
from mmret.query.parts import QueryPart, compose_vector

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
QUERIES = 400
METRICS = ("mAP", "P@10", "R@10", "MRR")
IMAGE_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5)  # the image part's weight, the text's being 1; chosen on tune


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(OFFLINE_MODELS), default="offline", help="the offline model")
    model = parser.parse_args().model
    paths, categories = photos()
    encoder = load_encoder(model)
    images = encoder.encode("image", [open_image(read_bytes(p), p) for p in paths])
    queries = triples(categories)
    texts = {b: encoder.encode("text", [f"a photo of a {b}"])[0] for b in {b for _, _, b in queries}}
    relevance = np.array([[g != q and a in c and b in c for g, c in enumerate(categories)] for q, a, b in queries])
    exclude = np.zeros_like(relevance)
    exclude[np.arange(len(queries)), [q for q, _, _ in queries]] = True
    image_scores = np.stack([images[q] for q, _, _ in queries]) @ images.T
    text_scores = np.stack([texts[b] for _, _, b in queries]) @ images.T
    lists = [np.where(exclude, np.nan, image_scores), np.where(exclude, np.nan, text_scores)]

    def composed(weight: float) -> np.ndarray:
        vectors = [compose_vector([QueryPart("image", paths[q], weight), QueryPart("text", b)],
                                  np.stack([images[q], texts[b]])) for q, _, b in queries]
        return np.stack(vectors) @ images.T

    methods = {"image alone": lambda w: image_scores, "text alone": lambda w: text_scores, "composed vector": composed,
               "rrf": lambda w: DECISION_FUSIONS["rrf"](lists, [w, 1.0]),
               "combsum (min-max)": lambda w: DECISION_FUSIONS["combsum"](lists, [w, 1.0], norm="min-max"),
               "combprod (AND)": lambda w: DECISION_FUSIONS["combprod"](lists, [w, 1.0])}
    tune = np.array([q % 2 == 0 for q, _, _ in queries])

    def measured(scores: np.ndarray, rows: np.ndarray) -> dict:
        found = mean_metrics(Ranking.from_scores(np.nan_to_num(scores[rows], nan=-1e9), relevance[rows],
                                                 exclude[rows]), REPORTED_METRICS)
        return {m: float(found[m]) for m in METRICS}

    results = {}
    for name, scores_at in methods.items():
        weights = IMAGE_WEIGHTS if name not in ("image alone", "text alone") else (1.0,)
        by_weight = {w: scores_at(w) for w in weights}
        chosen = max(weights, key=lambda w: measured(by_weight[w], tune)["mAP"])
        results[name] = {"image weight": chosen if len(weights) > 1 else None,
                         "tune": measured(by_weight[chosen], tune), "report": measured(by_weight[chosen], ~tune)}
    print(f"coco-mini composed queries: {len(queries)} (photo with A + 'a photo of a B'), gallery {len(paths) - 1}, "
          f"mean relevant per query {relevance.sum(1).mean():.1f}; tune {tune.sum()}, report {(~tune).sum()}")
    print(f"{'method':<20}{'w_img':>6}" + "".join(f"{m:>8}" for m in METRICS) + f"{'tune mAP':>10}")
    for name, row in results.items():
        weight = "-" if row["image weight"] is None else f"{row['image weight']:g}"
        print(f"{name:<20}{weight:>6}" + "".join(f"{row['report'][m]:>8.3f}" for m in METRICS)
              + f"{row['tune']['mAP']:>10.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / ("composed_queries" + ("" if model == "offline" else f"-{model}") + ".json")).write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "model": encoder.model_id, "queries": len(queries), "gallery": len(paths) - 1,
        "mean_relevant": float(relevance.sum(1).mean()), "tune queries": int(tune.sum()),
        "report queries": int((~tune).sum()), "image weights tried": IMAGE_WEIGHTS, "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
