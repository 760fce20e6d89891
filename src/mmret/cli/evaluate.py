"""`mmret eval` and `mmret report`: retrieval metrics of one model or a comparison of several on a data set."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import check_models, data_options, default_model, key_values, positive_int

EVAL_EXAMPLES = """examples:
  mmret eval --data captions:../shared/data/flickr8k-500 --stop 100 --json flickr.json
  mmret eval --data folders:../shared/data/caltech101/images --option per_class=5
  mmret eval --data captions:../shared/data/flickr8k-500 --start 400 --model offline --model runs/offline-heads/model"""
REPORT_EXAMPLES = """example:
  mmret report --data captions:../shared/data/flickr8k-500 --stop 100 --out flickr-report"""


def add(commands) -> None:
    evaluate = commands.add_parser("eval", help="retrieval metrics of one model, or a comparison of several",
                                   epilog=EVAL_EXAMPLES)
    data_options(evaluate)
    evaluate.add_argument("--model", action="append", metavar="NAME",
                          help="repeat to compare models (bootstrap CIs, paired tests vs the first); "
                               "default: offline (environment: MMRET_MODEL)")
    evaluate.add_argument("--per-query", action="store_true", help="include each query's metrics in the JSON")
    evaluate.add_argument("--resamples", type=positive_int, default=2000, help="bootstrap resamples for the CIs")
    evaluate.add_argument("--permutations", type=positive_int, default=10000, help="paired permutation test draws")
    evaluate.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    evaluate.set_defaults(run=_eval)

    report = commands.add_parser("report", help="an HTML report: curves, score plots, embedding map, query gallery",
                                 epilog=REPORT_EXAMPLES)
    data_options(report)
    report.add_argument("--model", action="append", metavar="NAME",
                        help="repeat to compare models; default: offline (environment: MMRET_MODEL)")
    report.add_argument("--out", required=True, metavar="DIR", help="the report's folder (index.html, plots/, media/)")
    report.add_argument("--gallery-size", type=positive_int, default=20, help="queries shown, worst first")
    report.add_argument("--top-k", type=positive_int, default=5, help="results shown per query")
    report.add_argument("--heatmaps", action=argparse.BooleanOptionalAction, default=None,
                        help="patch heat maps in explanations (default: on for CLIP-like models)")
    report.add_argument("--map", choices=("auto", "pca", "tsne"), default="auto", help="2-D embedding map method")
    report.set_defaults(run=_report)


def _eval(args) -> int:
    from ..eval.benchmark import evaluate, format_table
    from ..eval.compare import compare_evaluations, evaluate_models, format_comparison
    from ..models import load_encoder

    models = args.model or [default_model()]
    check_models(models)  # all of them, before the first loads
    dataset = _dataset(args)
    if len(models) == 1:
        result = evaluate(load_encoder(models[0], args.precision, args.device), dataset, batch_size=args.batch_size,
                          per_query=args.per_query)
        print(format_table(result))
    else:
        encoders = [load_encoder(name, args.precision, args.device) for name in models]  # trained folders too
        evaluations = evaluate_models(encoders, dataset, batch_size=args.batch_size)
        result = compare_evaluations(evaluations, labels=models, resamples=args.resamples,
                                     permutations=args.permutations)
        print(format_comparison(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _report(args) -> int:
    from ..eval.compare import evaluate_models
    from ..eval.report import write_report
    from ..models import load_encoder

    models = args.model or [default_model()]
    check_models(models)
    dataset = _dataset(args)
    encoders = [load_encoder(name, args.precision, args.device) for name in models]
    evaluations = evaluate_models(encoders, dataset, batch_size=args.batch_size)
    page = write_report(evaluations, args.out, encoders=encoders, gallery_size=args.gallery_size,
                        top_k=args.top_k, heatmaps=args.heatmaps, map_method=args.map, progress=True)
    print(f"report: {page}")
    return 0


def _dataset(args):
    from ..data.layouts import dataset_from_spec

    return dataset_from_spec(args.data, args.start, args.stop, key_values(args.option, "--option"))
