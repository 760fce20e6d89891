"""`mmret calibrate`: fit the fusion of a collection's search paths (a video's shots, sound windows, speech) from
example queries, so that an unfiltered search ranks hits of different paths on one scale; with `--hybrid`, fit how
hybrid search fuses the keyword and vector lists."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..encoders.base import SHARED
from ..errors import BadInput
from . import relevance

EXAMPLES = """examples:
  mmret calibrate --collection media --examples shot=captions.txt --examples sound=sounds.txt
  mmret calibrate --collection media --clear
  mmret calibrate --collection photos --hybrid examples.tsv
  mmret calibrate --collection photos --clear --hybrid

An examples file holds one query a line that targets that path ("a dog runs on a beach" for shots, "the sound of
rain" for sound windows). Speech and OCR paths take their segments' texts when no file is given for them.
--hybrid takes a file of `query<TAB>path of the file it should find` lines, or a captions manifest (captions.json:
each caption a query for its image); it prints each fusion's recall on those examples.
Calibrated relevance (`mmret search --min-relevance`):""" + relevance.EXAMPLES


def add(commands) -> None:
    calibrate = commands.add_parser("calibrate", help="fit how search weighs a collection's shot, sound and speech hits",
                                    epilog=EXAMPLES)
    calibrate.add_argument("--collection", default=os.environ.get("MMRET_COLLECTION"), metavar="DIR",
                           help="the collection (environment: MMRET_COLLECTION)")
    calibrate.add_argument("--examples", action="append", default=[], metavar="PATH=FILE",
                           help="example queries for one path (shot, sound, speech, ocr, item), one a line; repeatable")
    calibrate.add_argument("--space", default=SHARED, help="vector space whose paths are fused")
    calibrate.add_argument("--hybrid", nargs="?", const="", metavar="EXAMPLES",
                           help="fit hybrid search's fusion of keyword and vector hits on these example queries "
                                "(query<TAB>path lines, or a captions manifest); with --clear, remove it")
    calibrate.add_argument("--clear", action="store_true", help="remove the stored fusion: search raw scores again")
    relevance.add_options(calibrate)
    calibrate.set_defaults(run=_calibrate)


def _calibrate(args) -> int:
    from ..api import Collection
    from ..query.path_fusion import clear_path_fusion

    if args.relevance is not None:
        return relevance.run(args)
    if not args.collection:
        raise BadInput("calibrate: --collection is needed (or MMRET_COLLECTION)")
    collection = Collection.open(args.collection, create=False)
    if args.hybrid is not None:
        return _calibrate_hybrid(collection, args)
    if args.clear:
        clear_path_fusion(collection.store, args.space)
        print(f"{collection.path}: searches of space {args.space!r} use raw scores again")
        return 0
    fusion = collection.calibrate(_examples(args.examples), args.space)
    print(json.dumps({"space": args.space, "paths": {p: c.to_dict() for p, c in fusion.calibrations.items()}}, indent=2))
    return 0


def _calibrate_hybrid(collection, args) -> int:
    if args.examples:
        raise BadInput("--hybrid and --examples calibrate different fusions: give one of them")
    if args.clear:
        collection.clear_hybrid_calibration()
        print(f"{collection.path}: hybrid searches use the default fusion again")
        return 0
    if not args.hybrid:
        raise BadInput("--hybrid needs a file of example queries (query<TAB>path lines, or a captions manifest)")
    print(json.dumps(collection.calibrate_hybrid(args.hybrid), indent=2))
    return 0


def _examples(pairs: list[str]) -> dict[str, list[str]]:
    examples = {}
    for pair in pairs:
        path, sep, file = pair.partition("=")
        if not sep or not path or not file:
            raise BadInput(f"--examples {pair!r}: expected PATH=FILE, e.g. sound=sounds.txt")
        lines = Path(file).expanduser().read_text(encoding="utf-8").splitlines()
        examples.setdefault(path, []).extend(line.strip() for line in lines if line.strip())
        if not examples[path]:
            raise BadInput(f"--examples {pair!r}: {file} holds no queries")
    return examples
