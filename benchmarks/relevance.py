"""Calibrated relevance (issue 25): on report splits that the curves were not fitted on, the share of text queries
whose right image is above the default cut and the share of irrelevant (query, image) pairs that the cut hides, for
each offline model's shipped curve (src/mmret/resources/relevance.json, fitted on flickr8k-500[0:300] and
coco-mini[0:120] by `mmret calibrate --relevance --model M`).

Peer, in the same run: a raw cosine cut (what --min-score offers) at the same share of right images kept, tuned on
the report split itself (an oracle for --min-score: the comparison is at equal recall and favours the peer). Also:
the irrelevant share hidden among each query's top 10 (what a user sees first), and how many images per query stay
above the cut.

Usage: python benchmarks/relevance.py [--model offline --model offline-lite2]
Prints a table and writes benchmarks/out/relevance.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret.eval.relevance_pairs import LabelledPairs, caption_pairs
from mmret.fusion.relevance import RelevanceCurve
from mmret.models import load_encoder
from mmret.query.relevance import packaged_curves

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
FITTING = ("flickr8k-500[0:300]", "coco-mini[0:120]")
REPORT = ("flickr8k-500[400:500]", "coco-mini[120:239]")
TOP = 10


def measured(relevance: np.ndarray, cut: float, pairs: LabelledPairs) -> dict:
    """Shares for one split, `relevance` (queries, gallery) any score that grows with relevance."""
    right = np.where(pairs.relevant, relevance, -np.inf).max(axis=1)
    order = np.argsort(-pairs.scores, axis=1)[:, :TOP]
    top, top_relevant = np.take_along_axis(relevance, order, 1), np.take_along_axis(pairs.relevant, order, 1)
    return {"right above cut": round(float((right >= cut).mean()), 3),
            "irrelevant hidden": round(float((relevance[~pairs.relevant] < cut).mean()), 3),
            f"irrelevant hidden in top {TOP}": round(float((top[~top_relevant] < cut).mean()), 3),
            "shown per query": round(float((relevance >= cut).sum(axis=1).mean()), 1)}


def rated(curve: RelevanceCurve, pairs: LabelledPairs) -> np.ndarray:
    return np.stack([curve(scores, query) for scores, query in zip(pairs.scores, pairs.texts)])


def run_model(name: str) -> dict:
    encoder = load_encoder(name)
    stored = packaged_curves().get(encoder.model_id)
    if stored is None:
        raise SystemExit(f"{name}: no shipped curve; run mmret calibrate --relevance --model {name}")
    curve = RelevanceCurve.from_dict(stored)
    result = {"model": encoder.model_id, "cut": curve.cut, "fitted on": curve.fitted_on, "splits": {}}
    for split in REPORT:
        pairs = caption_pairs(encoder, f"captions:{DATA / split}")
        calibrated = measured(rated(curve, pairs), curve.cut, pairs)
        right = np.where(pairs.relevant, pairs.scores, -np.inf).max(axis=1)
        raw_cut = float(np.quantile(right, 1.0 - calibrated["right above cut"]))
        result["splits"][split] = {"queries": len(pairs.texts), "gallery": len(pairs.images),
                                   "calibrated": calibrated, "raw cosine cut (peer)": round(raw_cut, 4),
                                   "raw cosine (peer)": measured(pairs.scores, raw_cut, pairs)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[])
    args = parser.parse_args()
    results = [run_model(name) for name in args.model or ["offline", "offline-lite2"]]
    print(f"{'model':<14} {'split':<22} {'gallery':>7} {'cut by':<10} {'right kept':>10} {'irr. hidden':>11} "
          f"{'top-10 hidden':>13} {'shown':>6}")
    for name, result in zip(args.model or ["offline", "offline-lite2"], results):
        for split, row in result["splits"].items():
            for method in ("calibrated", "raw cosine (peer)"):
                r = row[method]
                print(f"{name:<14} {split:<22} {row['gallery']:>7} {method.split()[0]:<10} {r['right above cut']:>10.3f} "
                      f"{r['irrelevant hidden']:>11.3f} {r[f'irrelevant hidden in top {TOP}']:>13.3f} "
                      f"{r['shown per query']:>6.1f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "relevance.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "fitting": list(FITTING), "report": list(REPORT), "models": results}, indent=2))


if __name__ == "__main__":
    main()
