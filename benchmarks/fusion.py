"""Fusion of modalities on photo+title items: image only, title only, and every fusion method.

Items: each image of flickr8k-500 (and of coco-mini) with its first caption as the title; its other captions
are the queries, and an item is relevant to its own queries only. Splits:
  tune          train flickr8k-500 images 0-299 + coco-mini, report on images 300-399 (choices are made here)
  flickr        train images 0-399 + coco-mini, report on images 400-499 (100 items, 400 queries)
  coco-heldout  train images 0-399, report on coco-mini (239 items), held out from training
The trainer's validation set (best-epoch choice) is flickr8k-500 images 300-399: part of the training data in the
report splits, so neither the report split nor any choice ever sees the figures reported.

Methods, all over the same frozen offline-pack features with the same budget (epochs, lr, batch), 3 seeds:
  title only         the query's text vector against the title's (MiniLM, untrained)
  image only         a trained linear image head (LiT style, InfoNCE; the existing training stack)
  mean (untrained)   the mean of the ConSE-bridge image vector and the title vector
  mean, concat, tensor, low_rank, attention: fusion models trained with `fusion:` (residual on the mean)
  rrf, combsum, combmnz: decision-level fusion of the image-only and title-only top-20 lists (min-max norm),
                     weighted: the title's weight picked on the tune split (from 0.5-0.9), the image's 1 - that
  combsum (raw cosines), combsum (z-score): the same lists summed without rescaling or as z-scores, the title's
                     weight picked likewise
  low_rank with VSE++ (hard negatives) or ListNet (listwise) instead of InfoNCE, the same budget otherwise
  gated              per-item confidence weights of image and title from a gate over both (no residual: it starts
                     as the mean itself)
  query_head         items fused by gated (or attention), and a trained residual head on the caption queries
  oracle (either path)  not a method: per query, whichever of title only and image only ranks its item higher
                     (one relevant item per query, so that path is best on every metric); what the two paths
                     hold at best for a fusion that picks one of them per query

Usage: python benchmarks/fusion.py [--split tune|flickr|coco-heldout ...] [--seeds 3] [--base offline|offline-lite2]
Prints a table per split and writes benchmarks/out/fusion.json (data: $MMR_DATA_DIR, default ../shared/data).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from mmret.data.datasets import captions
from mmret.encoders.registry import OFFLINE_MODELS
from mmret.eval.benchmark import REPORTED_METRICS
from mmret.eval.metrics import Ranking, mean_metrics
from mmret.fusion import DECISION_FUSIONS, WeightedMeanFusion, fuse_vectors
from mmret.training import TrainConfig
from mmret.training.augment import ImageAugment, WordDropout
from mmret.training.corpus import CaptionCorpus
from mmret.training.experiment import fit, load_towers, prepare_data
from mmret.training.features import image_features, text_features
from mmret.training.fused_model import pack_items
from mmret.training.fusion_data import split_titles
from mmret.training.model import build_model

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
FEATURES = OUT / "fusion" / "features"
FLICKR, COCO = DATA / "flickr8k-500", DATA / "coco-mini"
METRICS = ("R@1", "R@5", "R@10", "mAP")
TRAINER_VALIDATION = f"captions:{FLICKR}[300:400]"
SPLITS = {
    "tune": {"train": [f"captions:{FLICKR}[0:300]", f"captions:{COCO}"], "report": (FLICKR, 300, 400)},
    "flickr": {"train": [f"captions:{FLICKR}[0:400]", f"captions:{COCO}"], "report": (FLICKR, 400, 500)},
    "coco-heldout": {"train": [f"captions:{FLICKR}[0:400]"], "report": (COCO, 0, None)},
}
# chosen on the tune split (see RESULTS.md); one budget for every trained method
BUDGET = {
    "model": {"init": "bridge"},
    "loss": {"name": "infonce", "options": {"init_temperature": 0.05}},
    "optimizer": {"lr": 1e-3, "warmup_steps": 10},
    "training": {"epochs": 8, "batch_size": 128, "patience": 0, "checkpoint_every": 0, "threads": 1,
                 "monitor": "text->image R@1"},
}
DECISION_DEPTH = 20  # each path's list, as a search fetches it
TITLE_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)
FUSIONS = {"mean": {}, "concat": {"hidden": 768}, "tensor": {"reduce": 32}, "low_rank": {"rank": 16},
           "attention": {"heads": 4}}
# the same fusion and budget with another loss from mmret.losses: hard negatives (VSE++ max violation) or
# listwise (ListNet); which of them (if any) beats InfoNCE is read off the tune split
LOSS_VARIANTS = {"low_rank, VSE++ hard negatives": {"name": "vsepp", "options": {"margin": 0.2}},
                 "low_rank, ListNet listwise": {"name": "listnet", "options": {"temperature": 0.05}}}
# confidence gating and query-side adaptation (issue 13, third pass): module options and residual flag
GATED = {"gated": ({"hidden": 64, "dropout": 0.1}, False),
         "query_head (items gated)": ({"items": "gated", "hidden": 384, "dropout": 0.1}, False),
         "query_head (items attention)": ({"items": "attention", "items_options": {"heads": 4, "residual": True},
                                           "hidden": 384, "dropout": 0.1}, False)}
# CombSUM over the lists' raw cosines (no per-list rescaling) or their z-scores, the title's weight picked on tune
OTHER_NORMS = {"combsum (raw cosines)": "none", "combsum (z-score)": "z-score"}
ORACLE = "oracle (either path)"


def config(split: str, seed: int, fusion: dict | None, loss: dict | None = None, base: str = "offline") -> TrainConfig:
    data = {"data": {"train": SPLITS[split]["train"], "validation": TRAINER_VALIDATION},
            "output": str(OUT / "fusion" / "runs"), "cache_dir": str(FEATURES), **BUDGET}
    data["model"] = {**BUDGET["model"], "base": base}
    data["loss"] = loss or BUDGET["loss"]
    data["training"] = {**BUDGET["training"], "seed": seed}
    return TrainConfig.from_dict({**data, "fusion": fusion} if fusion else data)


class ReportSet:
    """The report split's items and queries as frozen features: image tower features, title and query vectors."""

    def __init__(self, towers, folder: Path, start: int, stop: int | None):
        corpus = CaptionCorpus.from_datasets([captions(folder, start, stop)])
        images, failed = image_features(towers, corpus.images, 1, ImageAugment(), FEATURES)
        if failed:
            raise RuntimeError(f"{folder}: {len(failed)} images failed to decode")
        titles, queries = split_titles(corpus, 0)
        self.images = torch.from_numpy(images[:, 0])
        self.titles = torch.from_numpy(text_features(towers, titles, 1, WordDropout(0.0), FEATURES)[:, 0])
        self.queries = torch.from_numpy(text_features(towers, queries.texts, 1, WordDropout(0.0), FEATURES)[:, 0])
        self.relevance = queries.relevance()

    @property
    def items(self) -> torch.Tensor:
        return pack_items(self.images, self.titles, torch.ones(len(self.images), 2, dtype=torch.bool))


def metrics(scores: np.ndarray, relevance: np.ndarray) -> dict:
    """Metrics of a score matrix; items no list retrieved (NaN) rank below every retrieved one."""
    scores = np.where(np.isnan(scores), np.nanmin(scores) - 1, scores)
    found = mean_metrics(Ranking.from_scores(scores, relevance), REPORTED_METRICS)
    return {name: float(found[name]) for name in METRICS}


def scores_of(model, report: ReportSet, fused: bool) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        items = model.embed_images(report.items) if fused else model.project_images(report.images)
        return (model.embed_texts(report.queries) @ items.T).numpy()


def top(scores: np.ndarray, depth: int = DECISION_DEPTH) -> np.ndarray:
    """Each row's top `depth` scores, NaN elsewhere (not retrieved)."""
    kept = np.full(scores.shape, np.nan)
    rows = np.arange(len(scores))[:, None]
    best = np.argsort(-scores, axis=1)[:, :depth]
    kept[rows, best] = scores[rows, best]
    return kept


def better_path(image_scores: np.ndarray, title_scores: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Per query (one relevant item each), the score row of the path that ranks the relevant item higher."""
    if (relevance.sum(axis=1) != 1).any():
        raise ValueError("the oracle needs exactly one relevant item per query")
    def rank(scores: np.ndarray) -> np.ndarray:
        return (scores > scores[relevance].reshape(len(scores), 1)).sum(axis=1)
    return np.where((rank(image_scores) < rank(title_scores))[:, None], image_scores, title_scores)


def decision_fused(name: str, image_scores: np.ndarray, title_scores: np.ndarray, title_weight: float) -> np.ndarray:
    method, norm = ("combsum", OTHER_NORMS[name]) if name in OTHER_NORMS else (name, "min-max")
    return DECISION_FUSIONS[method]([top(image_scores), top(title_scores)], [1 - title_weight, title_weight],
                                    norm=norm)


def choose_title_weights(towers, base: str) -> dict:
    """Per decision-level method, the title weight with the best R@1 on the tune split (image model seed 0)."""
    report = ReportSet(towers, *SPLITS["tune"]["report"])
    plain = config("tune", 0, None, base=base)
    image_model, _ = fit(plain, prepare_data(plain, towers))
    image_scores, title_scores = scores_of(image_model, report, fused=False), (report.queries @ report.titles.T).numpy()
    return {name: max(TITLE_WEIGHTS, key=lambda w: metrics(decision_fused(name, image_scores, title_scores, w),
                                                             report.relevance)["R@1"])
            for name in [*DECISION_FUSIONS, *OTHER_NORMS]}


def run_split(split: str, seeds: int, towers, title_weights: dict, base: str) -> dict:
    report = ReportSet(towers, *SPLITS[split]["report"])
    rows: dict[str, list[dict]] = {}
    title_scores = (report.queries @ report.titles.T).numpy()
    rows["title only"] = [metrics(title_scores, report.relevance)]
    bridge = build_model(config(split, 0, None, base=base).model, towers)
    image_vectors = bridge.project_images(report.images).detach().numpy()
    untrained = fuse_vectors(WeightedMeanFusion((384, 384), 384), [image_vectors, report.titles.numpy()])
    rows["mean (untrained)"] = [metrics(report.queries.numpy() @ untrained.T, report.relevance)]
    plain = prepare_data(config(split, 0, None, base=base), towers)
    items = prepare_data(config(split, 0, {"method": "mean"}, base=base), towers)
    timings: dict[str, float] = {}
    for seed in range(seeds):
        started = time.perf_counter()
        image_model, _ = fit(config(split, seed, None, base=base), plain)
        timings["image only"] = timings.get("image only", 0) + time.perf_counter() - started
        image_scores = scores_of(image_model, report, fused=False)
        rows.setdefault("image only", []).append(metrics(image_scores, report.relevance))
        rows.setdefault(ORACLE, []).append(metrics(better_path(image_scores, title_scores, report.relevance),
                                                   report.relevance))
        for name, weight in title_weights.items():
            fused = decision_fused(name, image_scores, title_scores, weight)
            rows.setdefault(name, []).append(metrics(fused, report.relevance))
        for name, options in FUSIONS.items():
            started = time.perf_counter()
            model, _ = fit(config(split, seed, {"method": name, "options": options}, base=base), items)
            timings[name] = timings.get(name, 0) + time.perf_counter() - started
            rows.setdefault(name, []).append(metrics(scores_of(model, report, fused=True), report.relevance))
            print(f"  {split} seed {seed} {name}: R@1 {rows[name][-1]['R@1']:.3f}", flush=True)
        for name, loss in LOSS_VARIANTS.items():
            model, _ = fit(config(split, seed, {"method": "low_rank", "options": FUSIONS["low_rank"]}, loss, base=base), items)
            rows.setdefault(name, []).append(metrics(scores_of(model, report, fused=True), report.relevance))
            print(f"  {split} seed {seed} {name}: R@1 {rows[name][-1]['R@1']:.3f}", flush=True)
        for name, (options, residual) in GATED.items():
            method = name.split(" ")[0]
            model, _ = fit(config(split, seed, {"method": method, "options": options, "residual": residual}, base=base), items)
            rows.setdefault(name, []).append(metrics(scores_of(model, report, fused=True), report.relevance))
            print(f"  {split} seed {seed} {name}: R@1 {rows[name][-1]['R@1']:.3f}", flush=True)
    return {"gallery": len(report.images), "queries": len(report.queries), "train": SPLITS[split]["train"],
            "report": str(SPLITS[split]["report"]), "results": {name: summary(r) for name, r in rows.items()},
            "train_seconds_per_seed": {k: round(v / seeds, 1) for k, v in timings.items()}}


def summary(runs: list[dict]) -> dict:
    return {m: {"mean": float(np.mean([r[m] for r in runs])), "std": float(np.std([r[m] for r in runs])),
                "seeds": len(runs)} for m in METRICS}


def format_table(split: str, result: dict) -> str:
    lines = [f"### {split}: gallery {result['gallery']} items, {result['queries']} queries",
             "| method | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for name, values in result["results"].items():
        cells = [f"{values[m]['mean']:.3f} ± {values[m]['std']:.3f}" if values[m]["seeds"] > 1
                 else f"{values[m]['mean']:.3f}" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target(result: dict) -> str:
    title = result["results"]["title only"]["R@1"]["mean"]
    best = max((n for n in result["results"] if n not in ("title only", "image only", ORACLE)),
               key=lambda n: result["results"][n]["R@1"]["mean"])
    gain, spread = result["results"][best]["R@1"]["mean"] - title, result["results"][best]["R@1"]["std"]
    met = "met" if gain >= 0.05 and gain > spread else "NOT met"
    return f"best fused: {best}, R@1 {gain:+.3f} over title only (seed std {spread:.3f}): target {met}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", nargs="+", choices=sorted(SPLITS), default=["flickr", "coco-heldout"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--base", choices=sorted(OFFLINE_MODELS), default="offline",
                        help="the offline model whose towers every method uses (offline-lite2: the larger image tower)")
    args = parser.parse_args()
    towers = load_towers(config("flickr", 0, None, base=args.base).model)
    title_weights = choose_title_weights(towers, args.base)
    output = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "base": towers.encoder.model_id,
              "budget": BUDGET, "fusion_options": {**FUSIONS, **GATED}, "trainer_validation": TRAINER_VALIDATION,
              "decision_title_weights": title_weights, "decision_depth": DECISION_DEPTH, "splits": {}}
    print(f"decision-level title weights (chosen on the tune split): {title_weights}")
    for split in args.split:
        started = time.perf_counter()
        result = run_split(split, args.seeds, towers, title_weights, args.base)
        result["seconds"] = round(time.perf_counter() - started, 1)
        output["splits"][split] = result
        print(format_table(split, result), "\n" + target(result), f"\n({result['seconds']} s)\n", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    name = "fusion" + ("" if args.base == "offline" else f"-{args.base}") + ("-tune" if set(args.split) == {"tune"} else "")
    name += ".json"
    (OUT / name).write_text(json.dumps(output, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
