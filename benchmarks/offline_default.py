"""The default offline model against the untrained bridge (the old default), side by side in one run.

    python benchmarks/offline_default.py [--model offline-bridge --model offline --model runs/X/model ...]

English text->image and image->text R@1/5/10 on galleries that no shipped head was trained on:
flickr8k-500[400:500] (100 photos, 500 captions; the shipped recipe was chosen on it) and the val2017 half of
coco-mini ([80:239], 159 photos; never trained or chosen on). With `--zh`, also text->image of the captions of
benchmarks/data/captions_zh.jsonl in Chinese and in their English original, on the same galleries (the same
photos, the translated captions as queries). Prints a table, writes benchmarks/out/offline_default.json.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from mmret.data.decode import read_image
from mmret.eval.benchmark import evaluate
from mmret.models import load_encoder
from mmret.training.dataspec import DataSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
GALLERIES = {"flickr8k-500[400:500]": f"captions:{DATA}/flickr8k-500[400:500]",
             "coco-mini val2017 [80:239]": f"captions:{DATA}/coco-mini[80:239]"}
METRICS = ("R@1", "R@5", "R@10")
TASKS = ("text->image", "image->text")
TRANSLATIONS = ROOT / "benchmarks" / "data" / "captions_zh.jsonl"


def english_rows(encoder, name: str, spec: str) -> list[dict]:
    dataset = DataSpec.parse(spec).load()
    result = evaluate(encoder, dataset, progress=False)
    return [{"model": encoder.model_id, "gallery": name, "photos": result["n_items"]["image"], "task": task,
             "queries": result["n_queries"][task], **{m: result["results"][task][m] for m in METRICS}}
            for task in TASKS]


def translated_rows(encoder, name: str, spec: str) -> list[dict]:
    """Text->image of the translated captions of this gallery's photos, in English and in Chinese."""
    dataset = DataSpec.parse(spec).load()
    paths = [Path(item.path) for item in dataset.images]
    index = {(path.parent.parent.name, f"{path.parent.name}/{path.name}"): i for i, path in enumerate(paths)}
    rows = [json.loads(line) for line in TRANSLATIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if (r["dataset"], r["image"]) in index]
    truth = np.array([index[(r["dataset"], r["image"])] for r in rows])
    gallery = encoder.encode("image", [read_image(path) for path in paths])
    found = []
    for language, key in (("English (translated ones)", "english"), ("Chinese", "chinese")):
        ranks = (encoder.encode("text", [r[key] for r in rows]) @ gallery.T).argsort(axis=1)[:, ::-1]
        hit_at = (ranks == truth[:, None]).argmax(axis=1)
        found.append({"model": encoder.model_id, "gallery": name, "photos": len(paths), "task": language,
                      "queries": len(rows), **{f"R@{k}": float((hit_at < k).mean()) for k in (1, 5, 10)}})
    return found


def print_table(rows: list[dict]) -> None:
    header = f"{'model':<44}{'gallery':<28}{'photos':>7}{'task':>26}{'queries':>8}" + "".join(f"{m:>7}" for m in METRICS)
    print(header)
    for row in rows:
        print(f"{row['model'][:43]:<44}{row['gallery']:<28}{row['photos']:>7}{row['task']:>26}{row['queries']:>8}"
              + "".join(f"{row[m]:>7.3f}" for m in METRICS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="default: offline-bridge and offline")
    parser.add_argument("--zh", action="store_true", help="only the translated captions, English and Chinese")
    args = parser.parse_args()
    rows = []
    for name in args.model or ["offline-bridge", "offline"]:
        encoder = load_encoder(name)
        for gallery, spec in GALLERIES.items():
            rows += (translated_rows if args.zh else english_rows)(encoder, gallery, spec)
            print_table(rows[-2:])
    print()
    print_table(rows)
    out = ROOT / "benchmarks" / "out" / f"offline_default{'_zh' if args.zh else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
