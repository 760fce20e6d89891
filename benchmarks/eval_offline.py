"""Retrieval quality of a model on the shared data sets: the full `mmret eval` tables.

    python benchmarks/eval_offline.py [--model offline] [--data-dir ../shared/data]

Prints one table per data set and writes benchmarks/out/eval_<model>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from mmret.data.datasets import captions, folders
from mmret.eval.benchmark import evaluate, format_table
from mmret.models import load_encoder

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {"flickr8k-500": (captions, "flickr8k-500"), "coco-mini": (captions, "coco-mini"),
            "caltech101": (folders, "caltech101/images")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="offline")
    parser.add_argument("--data-dir", default=os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
    parser.add_argument("--only", nargs="*", choices=sorted(DATASETS), help="a subset of the data sets")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    results = []
    for name in args.only or DATASETS:
        layout, folder = DATASETS[name]
        result = evaluate(encoder, layout(Path(args.data_dir) / folder, name=name), progress=False)
        print(format_table(result), "\n", flush=True)
        results.append(result)
    out = ROOT / "benchmarks" / "out" / f"eval_{re.sub(r'[^A-Za-z0-9]+', '_', args.model)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
