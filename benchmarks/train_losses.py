"""Trained heads over the offline pack, one per loss, against the untrained offline encoder.

Train on flickr8k-500 images 0-399 plus coco-mini, validate on flickr8k-500 images 400-499:
1. each loss (contrastive, InfoNCE, triplet + batch-hard, triplet + VSE++ max violation, Smooth-AP) trains the
   default model (frozen towers, a linear image head started at the ConSE bridge, the text tower's space as the
   shared space, LiT style), plus variants of the InfoNCE run: heads started at random, a linear text head too,
   an MLP image head, and cached augmented views;
2. every saved model is evaluated with `evaluate(TrainedEncoder(dir), validation)` (what `mmret eval --model DIR`
   runs), which must reproduce the trainer's own validation figures;
3. training throughput (pairs/s) on cached frozen features, and with the image tower's last block unfrozen.

Hyperparameters are common defaults (lr 1e-3, margin 0.2 or 1.0, temperature 0.05), not tuned per loss; the
validation split picks the best epoch (early stopping), as `mmret train` does.

Usage: python benchmarks/train_losses.py   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/train_losses.json.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from mmret.data.datasets import captions
from mmret.encoders.offline import OfflineEncoder
from mmret.eval.benchmark import evaluate
from mmret.training import TrainConfig, TrainedEncoder, train
from mmret.training.experiment import load_towers, prepare_data

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
WORK = OUT / "train_losses"
KS = ("R@1", "R@5", "R@10")
TASKS = ("text->image", "image->text")

BASE = {
    "data": {"train": [f"captions:{DATA / 'flickr8k-500'}[0:400]", f"captions:{DATA / 'coco-mini'}"],
             "validation": f"captions:{DATA / 'flickr8k-500'}[400:500]"},
    "cache_dir": str(WORK / "features"),
    "model": {"init": "bridge"},
    "optimizer": {"lr": 1e-3, "warmup_steps": 20},
    "training": {"epochs": 60, "batch_size": 128, "patience": 10, "threads": 1},
}
LOSSES = {
    "contrastive": {"loss": {"name": "contrastive", "options": {"margin": 1.0}}},
    "infonce": {"loss": {"name": "infonce", "options": {"init_temperature": 0.05}}},
    "triplet+batch-hard": {"loss": {"name": "triplet", "options": {"margin": 0.2, "miner": "batch_hard"}}},
    "triplet+vsepp": {"loss": {"name": "vsepp", "options": {"margin": 0.2}}},
    "smooth-ap": {"loss": {"name": "smooth_ap", "options": {"temperature": 0.05}}},
}
INFONCE_VARIANTS = {
    "infonce, random init": {"model": {"init": "random"}},
    "infonce, text head too": {"model": {"text_head": "linear"}},
    "infonce, mlp image head": {"model": {"init": "random", "image_head": "mlp", "hidden": 1024}},
    "infonce, augmented views": {"augment": {"image_views": 4, "text_views": 3}},
}
UNFROZEN = {"data": {"train": [f"captions:{DATA / 'flickr8k-500'}[0:96]"]},
            "model": {"unfreeze_last_block": True}, "augment": {"image_views": 2},
            "training": {"epochs": 1, "batch_size": 32, "threads": 0}}


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def config_for(name: str, override: dict) -> TrainConfig:
    output = WORK / "runs" / name.replace(", ", "-").replace(" ", "-").replace("+", "-")
    shutil.rmtree(output, ignore_errors=True)  # a fresh run, not a resumed one
    return TrainConfig.from_dict(merged(merged(BASE, {"output": str(output)}), override))


def recalls(results: dict) -> dict:
    return {task: {k: round(results[task][k], 4) for k in KS} for task in TASKS}


def largest_difference(a: dict, b: dict) -> float:
    return max(abs(a[task][metric] - b[task][metric]) for task in a for metric in a[task])


def train_and_check(name: str, override: dict, encoder: OfflineEncoder, validation) -> dict:
    config = config_for(name, override)
    started = time.perf_counter()
    run = train(config, encoder=encoder)
    seconds = time.perf_counter() - started
    evaluated = evaluate(TrainedEncoder(run.model_dir), validation, progress=False)["results"]
    row = {"model": name, "loss": {"name": config.loss.name, "options": config.loss.options},
           "validation": recalls(run.result.validation), "best_epoch": run.result.best_epoch,
           "epochs_run": len(run.result.history), "steps": run.result.steps,
           "train_seconds": round(run.result.train_seconds, 2), "run_seconds": round(seconds, 2),
           "pairs_per_second": round(run.result.pairs_per_second, 1),
           "eval_minus_trainer": largest_difference(evaluated, run.result.validation),
           "untrained_start": recalls(run.result.initial), "model_dir": str(run.model_dir)}
    print(f"  {name}: t2i R@1 {row['validation']['text->image']['R@1']:.3f}, {row['train_seconds']} s", flush=True)
    return row


def throughput_unfrozen(encoder: OfflineEncoder) -> dict:
    config = config_for("unfrozen-last-block", UNFROZEN)
    run = train(config, encoder=encoder)
    return {"pairs_per_second": round(run.result.pairs_per_second, 2), "steps": run.result.steps,
            "pairs": run.result.pairs, "batch_size": config.training.batch_size,
            "threads": torch.get_num_threads(), "augmented": True}


def format_table(untrained: dict, rows: list[dict]) -> str:
    header = f"{'model':<26}" + "".join(f"{('t2i ' if t == 'text->image' else 'i2t ') + k:>10}"
                                       for t in TASKS for k in KS) + f"{'epoch':>7}{'train s':>9}{'eval=val':>10}"
    lines = [header, f"{'offline (untrained)':<26}" + "".join(f"{untrained[t][k]:>10.3f}" for t in TASKS for k in KS)]
    for row in rows:
        values = "".join(f"{row['validation'][t][k]:>10.3f}" for t in TASKS for k in KS)
        same = "yes" if row["eval_minus_trainer"] < 1e-9 else f"{row['eval_minus_trainer']:.1e}"
        lines.append(f"{row['model']:<26}{values}{row['best_epoch']:>7}{row['train_seconds']:>9.1f}{same:>10}")
    return "\n".join(lines)


def targets(untrained: dict, rows: list[dict]) -> dict:
    best = max(rows, key=lambda r: r["validation"]["text->image"]["R@1"])
    beats = all(best["validation"][t][k] > untrained[t][k] for t in TASKS for k in KS)
    ratio = best["validation"]["text->image"]["R@1"] / untrained["text->image"]["R@1"]
    return {"best_model": best["model"], "beats_untrained_on_every_recall": beats,
            "text_image_r1_ratio": round(ratio, 2), "ratio_target_met": ratio >= 1.5,
            "every_saved_model_reproduces_validation": all(r["eval_minus_trainer"] < 1e-9 for r in rows)}


def main() -> None:
    encoder = OfflineEncoder(precision="fp32")
    validation = captions(DATA / "flickr8k-500", 400, 500)
    started = time.perf_counter()
    untrained = recalls(evaluate(encoder, validation, progress=False)["results"])
    print(f"untrained offline evaluated in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    prepare_data(config_for("features", {}), load_towers(TrainConfig.from_dict(BASE).model, encoder))
    features_seconds = time.perf_counter() - started
    print(f"features ready in {features_seconds:.1f} s", flush=True)
    rows = [train_and_check(name, override, encoder, validation) for name, override in LOSSES.items()]
    rows += [train_and_check(name, merged(LOSSES["infonce"], override), encoder, validation)
             for name, override in INFONCE_VARIANTS.items()]
    cached = next(r for r in rows if r["model"] == "infonce")
    unfrozen = throughput_unfrozen(encoder)
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "base_model": encoder.model_id,
        "data": BASE["data"],
        "untrained": untrained,
        "runs": rows,
        "throughput_pairs_per_second": {"cached_frozen_features": cached["pairs_per_second"],
                                        "cached_threads": BASE["training"]["threads"],
                                        "unfrozen_last_block": unfrozen},
        "feature_preparation_seconds": round(features_seconds, 1),
        "targets": targets(untrained, rows),
    }
    print()
    print("validation: flickr8k-500 images 400-499 (100 images, 500 captions); "
          "training: flickr8k-500 images 0-399 + coco-mini (639 images, 3195 captions)")
    print(format_table(untrained, rows))
    print(f"\nthroughput: {cached['pairs_per_second']:.0f} pairs/s on cached frozen features (1 thread); "
          f"{unfrozen['pairs_per_second']:.1f} pairs/s with the image tower's last block unfrozen "
          f"(batch {unfrozen['batch_size']}, live augmentation, {unfrozen['threads']} threads)")
    print("targets:", json.dumps(result["targets"]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train_losses.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {OUT / 'train_losses.json'}")


if __name__ == "__main__":
    main()
