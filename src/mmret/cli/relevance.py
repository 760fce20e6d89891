"""`mmret calibrate --relevance`: fit the curve that turns a text query's scores into calibrated relevance, for a
model (shipped in the package) or for one collection (from example queries and their relevant items)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import BadInput
from .common import default_model

FITTING_SPLITS = ("flickr8k-500[0:300]", "coco-mini[0:120]")  # the report splits are [400:500] and [120:239]
EXAMPLES = """
  mmret calibrate --relevance --model offline           # refit the shipped curve of a model (shared data sets)
  mmret calibrate --collection photos --relevance pairs.csv  # a collection's own: CSV rows query,item
  mmret calibrate --collection photos --relevance --clear    # back to the model's shipped curve"""


def add_options(parser) -> None:
    parser.add_argument("--relevance", nargs="?", const="", default=None, metavar="PAIRS",
                        help="fit calibrated relevance: with --collection, from a CSV of query,item rows (the items "
                             "relevant to each query; every other item counts as irrelevant); without, refit the "
                             "curve shipped for --model on captions data (--data)")
    parser.add_argument("--model", default=None, help="the model whose shipped relevance curve is refit")
    parser.add_argument("--data", action="append", default=[], metavar="captions:PATH[start:stop]",
                        help="captions data to fit a model's curve on (repeatable; default: "
                             f"{' and '.join(FITTING_SPLITS)} in $MMR_DATA_DIR or ../shared/data)")
    parser.add_argument("--out", type=Path, help="where to write a model's curve (default: the package's own "
                                                 "resources/relevance.json)")


def run(args) -> int:
    if args.collection and (args.relevance or args.clear):
        return _fit_collection(args)
    if args.relevance:
        raise BadInput("--relevance PAIRS fits a collection's curve: add --collection")
    return _fit_model(args)


def _fit_collection(args) -> int:
    from ..api import Collection
    from ..query.relevance import store_relevance_curve
    from ..query.relevance_fit import fit_collection_relevance, read_pairs

    collection = Collection.open(args.collection, create=False)
    if args.clear:
        store_relevance_curve(collection.store, None)
        print(f"{collection.path}: relevance from the model's shipped curve again (if it has one)")
        return 0
    curve = fit_collection_relevance(collection.store, collection.encoder, read_pairs(args.relevance),
                                     str(args.relevance))
    print(json.dumps({"collection": str(collection.path), **_summary(curve.to_dict())}, indent=2))
    return 0


def _fit_model(args) -> int:
    from ..eval.relevance_pairs import fit_model_curve
    from ..models import load_encoder
    from ..query.relevance import packaged_file

    data_dir = Path(os.environ.get("MMR_DATA_DIR", "../shared/data"))
    specs = args.data or [f"captions:{data_dir / split}" for split in FITTING_SPLITS]
    encoder = load_encoder(args.model or default_model())
    curve = fit_model_curve(encoder, specs, progress=True)
    out = args.out or packaged_file()
    stored = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    stored[encoder.model_id] = curve.to_dict()
    out.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps({"model": encoder.model_id, "written": str(out), **_summary(curve.to_dict())}, indent=2))
    return 0


def _summary(curve: dict) -> dict:
    return {key: value for key, value in curve.items() if key != "mean"}
