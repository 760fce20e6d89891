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

USER_ERRORS = (ValueError, OSError, RuntimeError, ImportError, SourceError, CollectionError)


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
    parser = argparse.ArgumentParser(prog="mmret",
                                     description="Multimodal retrieval: index and search text, images, audio and video.")
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
    index.add_argument("--window", type=float, default=10.0, help="seconds per sound window of audio and video")
    index.add_argument("--keyframe-every", type=float, default=2.0, help="seconds between keyframes within a shot")
    index.add_argument("--cut-threshold", type=float, default=None, help="frame difference (0-1) that starts a shot")
    index.add_argument("--pooling", metavar="FILE", help="a trained attention pooling of shot keyframes (default: mean)")
    index.add_argument("--ocr", action="store_true", help="also index text read in video keyframes (mmret[ocr])")
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
    search.add_argument("--audio", metavar="FILE")
    search.add_argument("-k", type=int, default=10)
    search.add_argument("--all-segments", action="store_true",
                        help="list every matching segment (default: each file once, at its best segment)")
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep items whose metadata KEY matches: KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, "
                             "KEY<VALUE, KEY<=VALUE (also modality, path, path_prefix). Repeatable: filters on "
                             "different keys must all hold (AND); several KEY=VALUE on one key mean any of the "
                             "values (OR, an IN list), e.g. --filter folder=cats --filter folder=dogs "
                             "--filter width>=640. Numbers and true/false are typed; a number also matches a "
                             "stored text that spells it (CSV cells). A key that no item has is warned about")
    search.add_argument("--ef-search", type=int, help="HNSW candidate list size (default: tuned by optimize)")
    search.add_argument("--nprobe", type=int, help="IVF lists to visit (default: tuned by optimize)")
    search.add_argument("--shortlist", type=int, help="IVF-PQ candidates re-ranked exactly (default: tuned)")
    search.add_argument("--space", help="vector space to search (default: the best one for the query)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.add_argument("--precision", choices=PRECISIONS, default="auto")
    search.set_defaults(run=_search)

    evaluate = commands.add_parser("eval", help="retrieval metrics of one model, or a comparison of several")
    _data_options(evaluate)
    evaluate.add_argument("--model", action="append", metavar="NAME",
                          help="repeat to compare models (bootstrap CIs, paired tests vs the first); default offline")
    evaluate.add_argument("--per-query", action="store_true", help="include each query's metrics in the JSON")
    evaluate.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples for the CIs")
    evaluate.add_argument("--permutations", type=int, default=10000, help="paired permutation test draws")
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    evaluate.set_defaults(run=_eval)

    report = commands.add_parser("report", help="an HTML report: curves, score plots, embedding map, query gallery")
    _data_options(report)
    report.add_argument("--model", action="append", metavar="NAME", help="repeat to compare models; default offline")
    report.add_argument("--out", required=True, metavar="DIR")
    report.add_argument("--gallery-size", type=int, default=20, help="queries shown, worst first")
    report.add_argument("--top-k", type=int, default=5, help="results shown per query")
    report.add_argument("--heatmaps", action=argparse.BooleanOptionalAction, default=None,
                        help="patch heat maps in explanations (default: on for CLIP-like models)")
    report.add_argument("--map", choices=("auto", "pca", "tsne"), default="auto", help="2-D embedding map method")
    report.set_defaults(run=_report)

    train = commands.add_parser("train", help="train projection heads (or more) with a metric-learning loss")
    train.add_argument("config", metavar="CONFIG.yaml")
    train.set_defaults(run=_train)

    train_audio = commands.add_parser("train-audio", help="train an audio tower into the text space on labelled clips")
    train_audio.add_argument("--data", required=True, metavar="LAYOUT:PATH", help="esc50:, fsdd:, labels: and a path")
    train_audio.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                             help="layout option, e.g. folds=4 (repeatable)")
    train_audio.add_argument("--out", required=True, metavar="DIR", help="where the tower is saved")
    train_audio.add_argument("--text-model", default=DEFAULT_MODEL, help="the text encoder whose space it joins")
    train_audio.add_argument("--epochs", type=int, default=30)
    train_audio.add_argument("--holdout", type=float, default=0.2, help="fraction of clips held out for validation")
    train_audio.set_defaults(run=_train_audio)

    train_pooling = commands.add_parser("train-pooling",
                                        help="train attention pooling of video keyframes on captioned moments")
    train_pooling.add_argument("--segments", required=True, metavar="TABLE",
                               help="CSV/TSV/JSONL with path, start, end, text (one row per caption)")
    train_pooling.add_argument("--out", required=True, metavar="FILE.pt")
    train_pooling.add_argument("--model", default=DEFAULT_MODEL, help="the encoder whose image and text towers it uses")
    train_pooling.add_argument("--epochs", type=int, default=50)
    train_pooling.add_argument("--holdout", type=float, default=0.2, help="fraction of videos held out")
    train_pooling.set_defaults(run=_train_pooling)

    tune = commands.add_parser("tune", help="search training hyperparameters with Optuna")
    tune.add_argument("config", metavar="CONFIG.yaml")
    tune.set_defaults(run=_tune)

    optimize = commands.add_parser("optimize", help="merge a collection's segments and build its ANN index")
    optimize.add_argument("--collection", required=True, metavar="DIR")
    optimize.add_argument("--index", metavar="FACTORY",
                          help="FAISS factory string: Flat, HNSW32, IVF4096,PQ48, ... (default: chosen by size "
                               "and --memory-budget)")
    optimize.add_argument("--target-recall", type=float, default=0.95,
                          help="recall@10 against exact search that the tuned parameters must reach (default 0.95)")
    optimize.add_argument("--memory-budget", type=float, default=4.0, metavar="GIB",
                          help="memory an index may take beside the stored vectors, for the automatic choice")
    optimize.add_argument("--space", help="only this vector space (default: all)")
    optimize.set_defaults(run=_optimize)

    import_ = commands.add_parser("import", help="store precomputed vectors (.npy or Parquet) with metadata")
    import_.add_argument("vectors", metavar="VECTORS", help=".npy (n, d) or .parquet with a vector column")
    import_.add_argument("--collection", required=True, metavar="DIR")
    import_.add_argument("--metadata", metavar="FILE",
                         help=".jsonl, .csv or .parquet, one row per vector; an 'id' column names the items")
    made_by = import_.add_mutually_exclusive_group()
    made_by.add_argument("--model", metavar="NAME",
                         help="the mmret model that made the vectors (to create the collection; text and image "
                              "search then work)")
    made_by.add_argument("--model-id", metavar="ID",
                         help="a name for a model mmret cannot load (vectors from elsewhere; vector search only)")
    import_.add_argument("--space", default="shared", help="vector space to fill (default shared)")
    import_.add_argument("--vector-column", default="vector", help="Parquet column holding the vectors")
    import_.set_defaults(run=_import)

    migrate = commands.add_parser("migrate", help="convert an older collection to the current format")
    migrate.add_argument("--collection", required=True, metavar="DIR")
    migrate.set_defaults(run=_migrate)

    info = commands.add_parser("info", help="what a collection holds")
    info.add_argument("--collection", required=True, metavar="DIR")
    info.set_defaults(run=_info)
    return parser


def _model_options(parser: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL) -> None:
    parser.add_argument("--model", default=default,
                        help="'offline' (default, no network), a Hugging Face hub id, or a model directory; "
                             "add audio with '+speech' and/or '+audio-tower:DIR'")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="LAYOUT:PATH",
                        help="captions:, coco:, folders:, labels:, esc50:, fsdd:, qrels: followed by a path, or a path")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="layout option (repeatable)")
    parser.add_argument("--start", type=int, default=0, help="first record (captions) or file per class (folders)")
    parser.add_argument("--stop", type=int, default=None, help="end of the slice (exclusive)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def _print_skip(skipped) -> None:
    print(f"skipped {skipped.where}: {skipped.reason}", file=sys.stderr)


def _index(args) -> int:
    from .api import Collection

    missing = [path for path in args.paths if not Path(path).expanduser().exists()]
    if missing:  # checked before the collection is created, so a typo leaves nothing behind
        raise ValueError(f"{missing[0]}: no such file or folder")
    collection = Collection.open(args.collection, args.model, args.precision)
    report = collection.add(args.paths, sync=args.sync, batch_size=args.batch_size, workers=args.workers,
                            progress=True, on_skip=_print_skip, timed=_timed_settings(args))
    print(f"{args.collection}: {report.summary()}; {len(collection)} items stored")
    return 0


def _timed_settings(args):
    from .timed import TimedSettings

    video = {"keyframe_every": args.keyframe_every}
    if args.cut_threshold is not None:
        video["cut_threshold"] = args.cut_threshold
    return TimedSettings(window=args.window, video=video, pooling=_pooling(args.pooling), batch_size=args.batch_size,
                         ocr=args.ocr)


def _pooling(path: str | None):
    if path is None:
        return None
    from .encoders.pooling import AttentionPooling

    return AttentionPooling.load(path)


def _remove(args) -> int:
    from .api import Collection

    collection = Collection.open(args.collection, create=False)
    print(f"removed {collection.remove(args.ids)} items; {len(collection)} stored")
    return 0


def _search(args) -> int:
    from .api import Collection
    from .index.base import SearchParams
    from .index.filters import parse_filters
    from .search import format_row, result_rows

    where = parse_filters(args.filter)
    params = SearchParams.from_dict({"ef_search": args.ef_search, "nprobe": args.nprobe, "shortlist": args.shortlist})
    collection = Collection.open(args.collection, precision=args.precision, create=False)
    for key in collection.store.absent_filter_keys(where) if where else []:
        print(f"mmret: warning: no item of {args.collection} has the metadata key {key!r}", file=sys.stderr)
    hits = collection.search(text=args.text, image=args.image, audio=args.audio, k=args.k,
                             where=where, space=args.space, per_file=not args.all_segments, params=params)
    rows = result_rows(hits)
    if args.json:
        query = {"text": args.text, "image": args.image, "audio": args.audio}
        print(json.dumps({"query": query, "results": rows}, ensure_ascii=False))
    else:
        for row in rows:
            print(format_row(row))
    return 0


def _optimize(args) -> int:
    from .api import Collection

    collection = Collection.open(args.collection, create=False)
    reports = collection.optimize(args.index, args.target_recall, args.space, int(args.memory_budget * (1 << 30)))
    for space, report in reports.items():
        print(f"{space}: {report['vectors']} vectors, {report['factory']}, params {report['params']}, "
              f"recall@10 {report['recall@10']:.3f} on a sample, {report['seconds']:.1f} s")
    return 0


def _import(args) -> int:
    from .api import Collection
    from .data.vector_files import read_metadata, read_vectors
    from .index.collection import VectorCollection

    vectors, ids = read_vectors(args.vectors, args.vector_column)
    metadata = read_metadata(args.metadata) if args.metadata else None
    if VectorCollection.exists(args.collection):
        collection = Collection.open(args.collection, create=False)
    elif args.model:
        collection = Collection.open(args.collection, args.model)
    elif args.model_id:
        collection = Collection.create_for_vectors(args.collection, args.model_id, {args.space: vectors.shape[1]})
    else:
        raise ValueError(f"{args.collection}: no collection here; give --model NAME or --model-id ID to create one")
    count = collection.add_vectors(vectors, ids=ids, metadata=metadata, space=args.space)
    print(f"{args.collection}: imported {count} vectors; {len(collection)} items stored")
    return 0


def _migrate(args) -> int:
    from .index.collection import VectorCollection

    with VectorCollection.open(args.collection) as collection:  # opening migrates an older format once
        print(f"{args.collection}: format is current (generation {collection.generation})")
    return 0


def _eval(args) -> int:
    from .eval.benchmark import evaluate, format_table
    from .eval.compare import compare_evaluations, evaluate_models, format_comparison
    from .models import load_encoder

    dataset, models = _dataset(args), args.model or [DEFAULT_MODEL]
    if len(models) == 1:
        result = evaluate(load_encoder(models[0], args.precision), dataset, batch_size=args.batch_size,
                          per_query=args.per_query)
        print(format_table(result))
    else:
        encoders = [load_encoder(name, args.precision) for name in models]  # trained directories too
        evaluations = evaluate_models(encoders, dataset, batch_size=args.batch_size)
        result = compare_evaluations(evaluations, labels=models, resamples=args.resamples,
                                     permutations=args.permutations)
        print(format_comparison(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _report(args) -> int:
    from .eval.compare import evaluate_models
    from .eval.report import write_report
    from .models import load_encoder

    encoders = [load_encoder(name, args.precision) for name in args.model or [DEFAULT_MODEL]]
    evaluations = evaluate_models(encoders, _dataset(args), batch_size=args.batch_size)
    page = write_report(evaluations, args.out, encoders=encoders, gallery_size=args.gallery_size,
                        top_k=args.top_k, heatmaps=args.heatmaps, map_method=args.map)
    print(f"report: {page}")
    return 0


def _dataset(args):
    from .data.layouts import dataset_from_spec

    return dataset_from_spec(args.data, args.start, args.stop, _options(args))


def _options(args) -> dict[str, str]:
    options = {}
    for option in args.option:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {option!r}: expected KEY=VALUE")
        options[key] = value
    return options


def _train(args) -> int:
    from .training import train_from_config

    print(f"model saved in {train_from_config(args.config, progress=True)}")
    return 0


def _train_audio(args) -> int:
    from .training.audio_tower_fit import TrainSettings
    from .training.audio_tower_run import train_audio_tower

    options = _options(args)
    manifest = train_audio_tower(args.data, args.out, text_model=args.text_model,
                                 settings=TrainSettings(epochs=args.epochs), holdout=args.holdout, options=options)
    print(json.dumps(manifest.get("validation", {}), indent=2))
    print(f"audio tower saved in {args.out}; use it with --model '{args.text_model}+audio-tower:{args.out}'")
    return 0


def _train_pooling(args) -> int:
    from .training.pooling_run import train_pooling

    report = train_pooling(args.segments, args.out, args.model, epochs=args.epochs, holdout=args.holdout)
    print(json.dumps(report["validation"], indent=2))
    print(f"pooling saved in {args.out}; use it with mmret index --pooling {args.out}")
    return 0


def _tune(args) -> int:
    from .training import tune_from_config

    print(f"trials in {tune_from_config(args.config, progress=True)}")
    return 0


def _info(args) -> int:
    from collections import Counter

    from .api import Collection

    store = Collection.open(args.collection, create=False).store
    kinds = Counter(r.metadata["segment"] if "segment_of" in r.metadata else r.modality for r in store.records())
    print(json.dumps({"path": str(store.path), "model": store.model_id, "spaces": store.spaces, "items": len(store),
                      "by kind": dict(sorted(kinds.items()))}, indent=2))
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), args.model, args.precision)


if __name__ == "__main__":
    sys.exit(main())
