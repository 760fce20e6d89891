"""The HTML evaluation report of a model on every shared data set it can embed, with screenshots.

    python benchmarks/report_all.py [--model offline] [--data-dir ../shared/data] [--only coco-mini ...]

Writes benchmarks/out/reports/<dataset>/ (index.html, results.json, plots, media; when /usr/bin/chromium
exists, a screenshot of the whole page cut into 1280x2000 tiles, screenshots/page-NN.png) and
benchmarks/out/reports/summary.json: every metric with its bootstrap 95% confidence interval (a run with
--only updates the data sets it ran). Data sets of a modality the model does not embed (audio: ESC-50, FSDD)
are listed as skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from mmret.data.datasets import load_dataset
from mmret.eval.benchmark import evaluate_in_detail, format_table
from mmret.eval.metrics import REPORTED_METRICS, summarise, summary_function
from mmret.eval.report import write_report
from mmret.eval.stats import bootstrap_ci
from mmret.models import load_encoder

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "reports"
CHROMIUM = Path("/usr/bin/chromium")
DATASETS = ("flickr8k-500", "coco-mini", "caltech101", "esc50", "fsdd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="offline")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--only", nargs="*", choices=DATASETS, help="a subset of the data sets")
    parser.add_argument("--no-heatmaps", action="store_true", help="skip the occlusion heat maps (faster)")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    summary = previous_summary(encoder.model_id)
    for name in args.only or DATASETS:
        dataset = load_dataset(args.data_dir / name)
        needed = {dataset.modality(pool) for pool in dataset.pools}
        if not needed <= set(encoder.modalities):
            missing = sorted(needed - set(encoder.modalities))
            summary["skipped"][name] = f"needs {missing}, which the model does not embed"
            print(f"{name}: skipped, {summary['skipped'][name]}\n", flush=True)
            continue
        started = time.perf_counter()
        evaluation = evaluate_in_detail(encoder, dataset, progress=False)
        out = OUT / name
        index = write_report(evaluation, out, encoders=encoder, heatmaps=not args.no_heatmaps)
        print(format_table(evaluation.summary()), flush=True)
        print(f"report {index} in {time.perf_counter() - started:.0f} s", flush=True)
        summary["datasets"][name] = {task: intervals(run) for task, run in evaluation.tasks.items()}
        if CHROMIUM.exists():
            tiles = screenshot_tiles(index, out / "screenshots")
            print(f"screenshots: {len(tiles)} tiles in {tiles[0].parent}", flush=True)
        print(flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {OUT / 'summary.json'}")


def previous_summary(model: str) -> dict:
    """summary.json of an earlier run of the same model (so `--only` updates it), else an empty one."""
    file = OUT / "summary.json"
    summary = json.loads(file.read_text()) if file.is_file() else {}
    if summary.get("model") != model:
        summary = {"model": model, "datasets": {}, "skipped": {}}
    return summary


def intervals(run) -> dict:
    """{metric: [value, low, high]} with the bootstrap 95% interval over queries."""
    values = {}
    for metric in REPORTED_METRICS:
        per_query = run.per_query(metric)
        low, high = bootstrap_ci(per_query, summary_function(metric))
        values[metric] = [round(summarise(metric, per_query), 4), round(low, 4), round(high, 4)]
    return {"queries": int(run.ranking.answerable.sum()), "space": run.space, "metrics": values}


def screenshot_tiles(index: Path, folder: Path, width: int = 1280, tile: int = 2000,
                     longest: int = 30000) -> list[Path]:
    """The whole page rendered at `width`, cut into tiles `tile` pixels high (page-01.png, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("page-*.png"):
        old.unlink()
    with tempfile.TemporaryDirectory() as profile:
        page = Path(profile) / "page.png"
        subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--screenshot={page}", f"--window-size={width},{longest}", index.as_uri()],
                       check=True, capture_output=True, timeout=300)
        image = Image.open(page).convert("RGB")
    rows = np.flatnonzero((np.asarray(image) < 250).any(axis=(1, 2)))
    height = int(rows[-1]) + 20 if rows.size else tile
    tiles = []
    for number, top in enumerate(range(0, height, tile), 1):
        tiles.append(folder / f"page-{number:02d}.png")
        image.crop((0, top, width, min(top + tile, height))).save(tiles[-1])
    return tiles


if __name__ == "__main__":
    main()
