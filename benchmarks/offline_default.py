"""The default offline model against the untrained bridge (the old default), side by side in one run.

    python benchmarks/offline_default.py [--model offline-bridge --model offline --model runs/X/model ...]

English text->image and image->text R@1/5/10 on galleries that no shipped head was trained on:
flickr8k-500[400:500] (100 photos, 500 captions; the shipped recipe was chosen on it) and the val2017 half of
coco-mini ([80:239], 159 photos; never trained or chosen on). Prints a table, writes benchmarks/out/offline_default.json.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from mmret.eval.benchmark import evaluate
from mmret.models import load_encoder
from mmret.training.dataspec import DataSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
GALLERIES = {"flickr8k-500[400:500]": f"captions:{DATA}/flickr8k-500[400:500]",
             "coco-mini val2017 [80:239]": f"captions:{DATA}/coco-mini[80:239]"}
METRICS = ("R@1", "R@5", "R@10")
TASKS = ("text->image", "image->text")


def english_rows(encoder, name: str, spec: str) -> list[dict]:
    dataset = DataSpec.parse(spec).load()
    result = evaluate(encoder, dataset, progress=False)
    return [{"model": encoder.model_id, "gallery": name, "photos": result["n_items"]["image"], "task": task,
             "queries": result["n_queries"][task], **{m: result["results"][task][m] for m in METRICS}}
            for task in TASKS]


def print_table(rows: list[dict]) -> None:
    header = f"{'model':<44}{'gallery':<28}{'photos':>7}{'task':>16}{'queries':>8}" + "".join(f"{m:>7}" for m in METRICS)
    print(header)
    for row in rows:
        print(f"{row['model'][:43]:<44}{row['gallery']:<28}{row['photos']:>7}{row['task']:>16}{row['queries']:>8}"
              + "".join(f"{row[m]:>7.3f}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="default: offline-bridge and offline")
    args = parser.parse_args()
    rows = []
    for name in args.model or ["offline-bridge", "offline"]:
        encoder = load_encoder(name)
        for gallery, spec in GALLERIES.items():
            rows += english_rows(encoder, gallery, spec)
            print_table(rows[-2:])
    print()
    print_table(rows)
    out = ROOT / "benchmarks" / "out" / "offline_default.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
