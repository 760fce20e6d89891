"""Fusion of modalities on photo+title items: image only, title only, and every fusion method.

Items: each image of flickr8k-500 (and of coco-mini) with its first caption as the title; its other captions
are the queries, and an item is relevant to its own queries only. Splits:
  tune          train flickr8k-500 images 0-299 + coco-mini, report on images 300-399 (choices are made here)
  flickr        train images 0-399 + coco-mini, report on images 400-499 (100 items, 400 queries)
  coco-heldout  train images 0-399, report on coco-mini (239 items), held out from training
  coco-val2017  train images 0-399, report coco-mini's val2017 half (items 80-238, 159 items)
  tune-7k       train images 0-399 + coco-mini, report flickr8k-7k items 4000-4099 ($FLICKR8K_7K, default
                ../data/flickr8k-7k): the shipped path's tune split, on photos its heads never saw
The trainer's validation set (best-epoch choice) is flickr8k-500 images 300-399: part of the training data in the
report splits, so neither the report split nor any choice ever sees the figures reported.

Image paths (--image-path, one or both in one run, side by side):
  trained  (the default) an image head trained here from the ConSE bridge of --base's towers, per seed; tune split
           "tune"
  shipped  the package's trained heads (--heads: the default `offline`, or `offline-en`; see
           benchmarks/fusion_shipped.py), frozen and untrained here: the image vector of a photo is that model's,
           titles and queries keep its text tower's vectors (its text head is the identity). Image only, the
           untrained mean and decision-level rows are deterministic (one run); feature-level models train only
           their fusion module over the frozen heads. The heads trained on flickr8k-500 images 0-399 (the tune
           split's report images among them) and coco-mini items 0-79, so its tune split is tune-7k (`--split
           tune` runs it) and coco-heldout is refused: report coco on coco-val2017. Flickr8k-500 images 400-499
           were the heads' early-stopping set.

Methods, all over the same frozen offline-pack features with the same budget (epochs, lr, batch), 3 seeds:
  title only         the query's text vector against the title's (the text tower's, untrained)
  image only         a linear image head trained here (LiT style, InfoNCE; the existing training stack), or the
                     shipped heads
  mean (untrained)   the mean of the title vector and the ConSE-bridge image vector (or the shipped heads' one)
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

Usage: python benchmarks/fusion.py [--split tune|flickr|coco-val2017|coco-heldout ...] [--seeds 3]
                                  [--base offline|offline-lite2|...] [--image-path trained shipped]
                                  [--heads offline|offline-en]
Prints a table per split and writes benchmarks/out/fusion[-BASE][-PATHS][-HEADS][-tune].json (data: $MMR_DATA_DIR,
default ../shared/data).
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
from fusion_shipped import check_towers, fit_from_shipped, model_section, shipped_model

from mmret.data.datasets import captions
from mmret.encoders.offline_heads import SHIPPED_HEADS, SHIPPED_NAME
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
FLICKR7K = Path(os.environ.get("FLICKR8K_7K", ROOT.parent / "data" / "flickr8k-7k"))
METRICS = ("R@1", "R@5", "R@10", "mAP")
TRAINER_VALIDATION = f"captions:{FLICKR}[300:400]"
SPLITS = {
    "tune": {"train": [f"captions:{FLICKR}[0:300]", f"captions:{COCO}"], "report": (FLICKR, 300, 400)},
    "flickr": {"train": [f"captions:{FLICKR}[0:400]", f"captions:{COCO}"], "report": (FLICKR, 400, 500)},
    "coco-heldout": {"train": [f"captions:{FLICKR}[0:400]"], "report": (COCO, 0, None)},
    "coco-val2017": {"train": [f"captions:{FLICKR}[0:400]"], "report": (COCO, 80, 239)},
    "tune-7k": {"train": [f"captions:{FLICKR}[0:400]", f"captions:{COCO}"], "report": (FLICKR7K, 4000, 4100)},
}
IMAGE_PATHS = ("trained", "shipped")
TUNE = {"trained": "tune", "shipped": "tune-7k"}  # where each image path's choices are made
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


def config(split: str, seed: int, fusion: dict | None, loss: dict | None = None, base: str = "offline",
           path: str = "trained") -> TrainConfig:
    data = {"data": {"train": SPLITS[split]["train"], "validation": TRAINER_VALIDATION},
            "output": str(OUT / "fusion" / "runs"), "cache_dir": str(FEATURES), **BUDGET}
    data["model"] = {**BUDGET["model"], "base": base} if path == "trained" else model_section(base)
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


def image_only_model(split: str, seed: int, towers, base: str, path: str, report: ReportSet, data=None):
    """The image path: an image head trained here (seeded; `data` prepared for it), or the shipped heads."""
    if path == "shipped":
        return shipped_model(config(split, seed, None, base=base, path=path), towers, report.images)
    plain = config(split, seed, None, base=base)
    return fit(plain, data or prepare_data(plain, towers))[0]


def untrained_image_model(split: str, towers, base: str, path: str, report: ReportSet):
    """What the untrained mean fuses: the ConSE bridge of --base's towers, or the shipped heads."""
    if path == "shipped":
        return shipped_model(config(split, 0, None, base=base, path=path), towers, report.images)
    return build_model(config(split, 0, None, base=base).model, towers)


def choose_title_weights(towers, base: str, path: str) -> dict:
    """Per decision-level method, the title weight with the best R@1 on the path's tune split (image model seed 0)."""
    report = ReportSet(towers, *SPLITS[TUNE[path]]["report"])
    image_model = image_only_model(TUNE[path], 0, towers, base, path, report)
    image_scores, title_scores = scores_of(image_model, report, fused=False), (report.queries @ report.titles.T).numpy()
    return {name: max(TITLE_WEIGHTS, key=lambda w: metrics(decision_fused(name, image_scores, title_scores, w),
                                                             report.relevance)["R@1"])
            for name in [*DECISION_FUSIONS, *OTHER_NORMS]}


def run_split(split: str, seeds: int, towers, title_weights: dict, base: str, path: str = "trained") -> dict:
    report = ReportSet(towers, *SPLITS[split]["report"])
    rows: dict[str, list[dict]] = {}
    title_scores = (report.queries @ report.titles.T).numpy()
    rows["title only"] = [metrics(title_scores, report.relevance)]
    untrained_model = untrained_image_model(split, towers, base, path, report)
    image_vectors = untrained_model.project_images(report.images).detach().numpy()
    dim = towers.text_dim
    untrained = fuse_vectors(WeightedMeanFusion((dim, dim), dim), [image_vectors, report.titles.numpy()])
    rows["mean (untrained)"] = [metrics(report.queries.numpy() @ untrained.T, report.relevance)]
    plain = prepare_data(config(split, 0, None, base=base), towers) if path == "trained" else None
    items = prepare_data(config(split, 0, {"method": "mean"}, base=base, path=path), towers)
    train = fit_from_shipped if path == "shipped" else (lambda settings, data: fit(settings, data)[0])
    timings: dict[str, float] = {}
    for seed in range(seeds):
        if path == "trained" or seed == 0:  # the shipped image path is the same every seed
            started = time.perf_counter()
            image_model = untrained_model if path == "shipped" else image_only_model(split, seed, towers, base, path,
                                                                                     report, plain)
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
            model = train(config(split, seed, {"method": name, "options": options}, base=base, path=path), items)
            timings[name] = timings.get(name, 0) + time.perf_counter() - started
            rows.setdefault(name, []).append(metrics(scores_of(model, report, fused=True), report.relevance))
            print(f"  {split} seed {seed} {name}: R@1 {rows[name][-1]['R@1']:.3f}", flush=True)
        for name, loss in LOSS_VARIANTS.items():
            low_rank = {"method": "low_rank", "options": FUSIONS["low_rank"]}
            model = train(config(split, seed, low_rank, loss, base=base, path=path), items)
            rows.setdefault(name, []).append(metrics(scores_of(model, report, fused=True), report.relevance))
            print(f"  {split} seed {seed} {name}: R@1 {rows[name][-1]['R@1']:.3f}", flush=True)
        for name, (options, residual) in GATED.items():
            fusion = {"method": name.split(" ")[0], "options": options, "residual": residual}
            model = train(config(split, seed, fusion, base=base, path=path), items)
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


def best_fused(result: dict) -> str:
    return max((n for n in result["results"] if n not in ("title only", "image only", ORACLE)),
               key=lambda n: result["results"][n]["R@1"]["mean"])


def gain(result: dict, method: str) -> str:
    title = result["results"]["title only"]["R@1"]["mean"]
    values = result["results"][method]["R@1"]
    return f"{method}, R@1 {values['mean'] - title:+.3f} over title only (seed std {values['std']:.3f})"


def target(result: dict, picked: str | None = None) -> str:
    """The best fused method on this split (chosen on it), and the tune split's pick where the tune split ran."""
    best = best_fused(result)
    values = result["results"][best]["R@1"]
    title = result["results"]["title only"]["R@1"]["mean"]
    met = "met" if values["mean"] - title >= 0.05 and values["mean"] - title > values["std"] else "NOT met"
    line = f"best fused: {gain(result, best)}: target {met}"
    return line + (f"\nthe tune split's pick: {gain(result, picked)}" if picked else "")


def run_path(path: str, splits: list[str], seeds: int, base: str, loaded: dict) -> dict:
    """Every split with one image path (base: the trained path's towers, or the shipped heads' name); `loaded` keeps
    the towers for the next path."""
    model = config("flickr", 0, None, base=base, path=path).model
    key = json.dumps([OFFLINE_MODELS[model.base], model.precision, model.image_inputs], sort_keys=True)
    if key not in loaded:
        loaded[key] = load_towers(model)
    towers = loaded[key]
    if path == "shipped":
        check_towers(towers, base)
    title_weights = choose_title_weights(towers, base, path)
    print(f"{path} image path on {towers.encoder.model_id}: decision-level title weights (chosen on {TUNE[path]}): "
          f"{title_weights}", flush=True)
    output = {"base": towers.encoder.model_id, "heads": base if path == "shipped" else None, "tune_split": TUNE[path],
              "decision_title_weights": title_weights, "splits": {}}
    for split in dict.fromkeys(TUNE[path] if name == "tune" else name for name in splits):
        started = time.perf_counter()
        result = run_split(split, seeds, towers, title_weights, base, path)
        result["seconds"] = round(time.perf_counter() - started, 1)
        output["splits"][split] = result
        tuned = output["splits"].get(TUNE[path])
        picked = best_fused(tuned) if tuned and split != TUNE[path] else None
        print(format_table(f"{path} image path, {split}", result), "\n" + target(result, picked),
              f"\n({result['seconds']} s)\n", flush=True)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", nargs="+", choices=sorted(SPLITS), default=["flickr", "coco-val2017"],
                        help="tune: each image path's own tune split")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--base", choices=sorted(OFFLINE_MODELS), default="offline",
                        help="the offline model whose towers the trained image path uses (offline-lite2: the larger "
                             "image tower)")
    parser.add_argument("--image-path", nargs="+", choices=IMAGE_PATHS, default=["trained"],
                        help="trained: an image head trained here; shipped: the package's trained heads, frozen")
    parser.add_argument("--heads", choices=sorted(set(SHIPPED_HEADS)), default=SHIPPED_NAME,
                        help="the shipped heads of the shipped image path")
    args = parser.parse_args()
    if "shipped" in args.image_path and "coco-heldout" in args.split:
        parser.error("coco-heldout is not held out for the shipped heads (they trained on coco-mini items 0-79): "
                     "report coco-val2017")
    output = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "load_average_at_start": os.getloadavg(), "budget": BUDGET, "fusion_options": {**FUSIONS, **GATED},
              "trainer_validation": TRAINER_VALIDATION, "decision_depth": DECISION_DEPTH, "paths": {}}
    loaded: dict = {}
    for path in args.image_path:
        output["paths"][path] = run_path(path, args.split, args.seeds, args.heads if path == "shipped" else args.base,
                                         loaded)
    output["load_average_at_end"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    name = "fusion" + ("" if args.base == "offline" else f"-{args.base}")
    name += "" if args.image_path == ["trained"] else "-" + "-".join(args.image_path)
    name += "" if "shipped" not in args.image_path or args.heads == SHIPPED_NAME else f"-{args.heads}"
    name += "-tune" if set(args.split) == {"tune"} else ""
    (OUT / f"{name}.json").write_text(json.dumps(output, indent=2), encoding="utf-8")
    print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main()
