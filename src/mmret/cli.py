"""The `mmret` command: parses arguments and calls the Python API."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .data.sources import SourceError
from .encoders.precision import PRECISIONS
from .encoders.registry import DEFAULT_MODEL
from .index.collection import CollectionError

USER_ERRORS = (ValueError, OSError, RuntimeError, SourceError, CollectionError)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model loading bars drown the command's output
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("interrupted: committed work is kept; run the same command again to resume", file=sys.stderr)
        return 130
    except USER_ERRORS as e:  # these carry the file or field and the reason
        print(f"mmret: error: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmret", description="Multimodal retrieval: index and search text and images.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="index a small bundled photo set and run example queries, offline")
    demo.add_argument("--out", default="demo-out", help="folder for the collection and the HTML page")
    _model_options(demo)
    demo.set_defaults(run=_demo)

    index = commands.add_parser("index", help="index folders, files or CSV/JSONL/Parquet manifests")
    index.add_argument("paths", nargs="+", metavar="PATH")
    index.add_argument("--collection", required=True, metavar="DIR")
    index.add_argument("--sync", action="store_true", help="also remove stored files that no longer exist")
    index.add_argument("--batch-size", type=int, default=32)
    index.add_argument("--workers", type=int, default=None, help="decoding processes (default: up to 4)")
    _model_options(index, default=None)
    index.set_defaults(run=_index)

    remove = commands.add_parser("remove", help="remove items by id or file path")
    remove.add_argument("ids", nargs="+", metavar="ID")
    remove.add_argument("--collection", required=True, metavar="DIR")
    remove.set_defaults(run=_remove)

    search = commands.add_parser("search", help="search a collection by text, image, or both")
    search.add_argument("--collection", required=True, metavar="DIR")
    search.add_argument("--text")
    search.add_argument("--image", metavar="FILE")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep items whose metadata KEY equals VALUE (repeatable; numbers and true/false are typed)")
    search.add_argument("--space", help="vector space to search (default: the best one for the query)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.add_argument("--precision", choices=PRECISIONS, default="auto")
    search.set_defaults(run=_search)

    evaluate = commands.add_parser("eval", help="retrieval metrics of a model on a data set")
    evaluate.add_argument("--data", required=True, metavar="LAYOUT:PATH", help="captions:PATH or folders:PATH")
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--start", type=int, default=0, help="first record (captions) or file per class (folders)")
    evaluate.add_argument("--stop", type=int, default=None, help="end of the slice (exclusive)")
    _model_options(evaluate)
    evaluate.set_defaults(run=_eval)

    train = commands.add_parser("train", help="train projection heads (or more) with a metric-learning loss")
    train.add_argument("config", metavar="CONFIG.yaml")
    train.set_defaults(run=_train)

    tune = commands.add_parser("tune", help="search training hyperparameters with Optuna")
    tune.add_argument("config", metavar="CONFIG.yaml")
    tune.set_defaults(run=_tune)

    info = commands.add_parser("info", help="what a collection holds")
    info.add_argument("--collection", required=True, metavar="DIR")
    info.set_defaults(run=_info)
    return parser


def _model_options(parser: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL) -> None:
    parser.add_argument("--model", default=default,
                        help="'offline' (default, no network), a Hugging Face hub id, or a model directory")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def _print_skip(skipped) -> None:
    print(f"skipped {skipped.where}: {skipped.reason}", file=sys.stderr)


def _index(args) -> int:
    from .api import Collection

    collection = Collection.open(args.collection, args.model, args.precision)
    report = collection.add(args.paths, sync=args.sync, batch_size=args.batch_size, workers=args.workers,
                            progress=True, on_skip=_print_skip)
    print(f"{args.collection}: {report.summary()}; {len(collection)} items stored")
    return 0


def _remove(args) -> int:
    from .api import Collection

    collection = Collection.open(args.collection, create=False)
    print(f"removed {collection.remove(args.ids)} items; {len(collection)} stored")
    return 0


def _search(args) -> int:
    from .api import Collection

    collection = Collection.open(args.collection, precision=args.precision, create=False)
    hits = collection.search(text=args.text, image=args.image, k=args.k, where=_filters(args.filter), space=args.space)
    rows = [{"rank": r, "id": h.record.item_id, "path": h.record.path, "score": round(h.score, 6),
             "modality": h.record.modality, "text": h.record.text, "metadata": h.record.metadata}
            for r, h in enumerate(hits, 1)]
    if args.json:
        print(json.dumps({"query": {"text": args.text, "image": args.image}, "results": rows}, ensure_ascii=False))
    else:
        for row in rows:
            print(f"{row['rank']:>3}  {row['score']:.4f}  {row['path'] or row['text']}  {_short(row['metadata'])}")
    return 0


def _filters(pairs: list[str]) -> dict | None:
    where = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--filter {pair!r}: expected KEY=VALUE")
        where[key] = _typed(value)
    return where or None


def _typed(value: str):
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, (int, float, bool)) else value


def _short(metadata: dict) -> str:
    return json.dumps(metadata, ensure_ascii=False) if metadata else ""


def _eval(args) -> int:
    from .encoders.registry import load_encoder
    from .eval.benchmark import evaluate, format_table

    dataset = _dataset(args.data, args.start, args.stop)
    result = evaluate(load_encoder(args.model, args.precision), dataset, batch_size=args.batch_size)
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _dataset(spec: str, start: int = 0, stop: int | None = None):
    from .data import datasets

    layouts = {"captions": datasets.captions, "folders": datasets.folders}
    layout, sep, path = spec.partition(":")
    if sep and layout in layouts:
        return layouts[layout](path, start=start, stop=stop)
    if sep and not Path(spec).exists():
        raise ValueError(f"--data {spec!r}: unknown layout {layout!r}; use captions:PATH or folders:PATH")
    return datasets.load_dataset(spec, start=start, stop=stop)


def _train(args) -> int:
    from .training import train_from_config

    print(f"model saved in {train_from_config(args.config, progress=True)}")
    return 0


def _tune(args) -> int:
    from .training import tune_from_config

    print(f"trials in {tune_from_config(args.config, progress=True)}")
    return 0


def _info(args) -> int:
    from .api import Collection

    store = Collection.open(args.collection, create=False).store
    print(json.dumps({"path": str(store.path), "model": store.model_id, "spaces": store.spaces, "items": len(store)},
                     indent=2))
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), args.model, args.precision)


if __name__ == "__main__":
    sys.exit(main())
