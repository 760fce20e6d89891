"""Commands on a stored collection: `index`, `remove`, `info`, `ls`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.sources import check_sources
from ..errors import BadInput, NotFound
from . import common
from .common import (
    check_exist,
    check_models,
    collection_option,
    default_model,
    device_option,
    model_options,
    print_skip,
)
from .distributed import ray_options, ray_settings

INDEX_EXAMPLES = """examples:
  mmret index ~/Pictures --collection photos               # again later: only new or changed files
  mmret index manifest.csv --collection photos             # CSV/JSONL/Parquet: path, text, other columns = metadata
  mmret index ~/Videos --collection media --model offline+speech --window 5
  mmret index catalogue.csv --collection shop --fusion mean  # path+text rows: each part's vector and the fused one
  mmret index /data/photos --collection photos --ray head:6379  # decode and embed on a Ray cluster
  mmret index ~/Pictures --collection photos --faces           # also faces (remembered by the collection)"""


def add(commands) -> None:
    index = commands.add_parser("index", help="index folders, files or CSV/JSONL/Parquet manifests",
                                epilog=INDEX_EXAMPLES)
    index.add_argument("paths", nargs="+", metavar="PATH", help="folders, media files or manifests")
    collection_option(index)
    index.add_argument("--sync", action="store_true", help="also remove stored files that no longer exist")
    index.add_argument("--batch-size", type=common.positive_int, default=32, help="items embedded at once")
    index.add_argument("--workers", type=common.positive_int, default=None, help="decoding processes (default: up to 4)")
    index.add_argument("--commit-every", type=common.positive_int, default=1024, metavar="N",
                       help="items embedded between two commits; an interrupted run keeps what it committed")
    index.add_argument("--commit-seconds", type=common.positive_float, default=30.0, metavar="S",
                       help="also commit what was embedded in the last S seconds, so Ctrl-C never loses more")
    index.add_argument("--window", type=common.positive_float, default=10.0,
                       help="seconds per sound window of audio and video")
    index.add_argument("--keyframe-every", type=common.positive_float, default=2.0,
                       help="seconds between keyframes within a shot")
    index.add_argument("--cut-threshold", type=float, default=None,
                       help="frame difference (0-1) that starts a shot (default: the shot detector's)")
    index.add_argument("--pooling", metavar="FILE", help="a trained attention pooling of shot keyframes (default: mean)")
    index.add_argument("--ocr", action="store_true",
                       help="also read text in photos and video keyframes: searchable by its words and its meaning "
                            "(mmret[ocr]; slower)")
    index.add_argument("--words-from", metavar="FIELDS", type=_field_names,
                       help="metadata fields whose values keyword search also finds, comma-separated (e.g. "
                            "tags,author); remembered by the collection")
    index.add_argument("--faces", action=argparse.BooleanOptionalAction, default=None,
                       help="find faces in photos and video keyframes, each stored with its box and descriptor "
                            "(mmret[faces]); the collection remembers it, --no-faces stops (default: as remembered, "
                            "off for a new collection)")
    index.add_argument("--min-face", type=common.positive_int, default=None, metavar="PIXELS",
                       help="with --faces: skip (and count) faces smaller than this (default 40)")
    index.add_argument("--fusion", metavar="NAME",
                       help="items of several parts (a manifest row's image and text): store each part's vector and "
                            "the fused one; 'mean', or the method a trained --model DIR was trained with")
    model_options(index, default=None)
    device_option(index)
    ray_options(index)
    index.set_defaults(run=_index)

    remove = commands.add_parser("remove", help="remove items by id or file path",
                                 epilog="example:\n  mmret remove ~/Pictures/old.jpg --collection photos")
    remove.add_argument("ids", nargs="+", metavar="ID", help="item ids or file paths (a file goes with its segments)")
    collection_option(remove)
    remove.set_defaults(run=_remove)

    info = commands.add_parser("info", help="what a collection holds and what each kind of query reaches",
                               epilog="example:\n  mmret info --collection photos")
    collection_option(info)
    info.set_defaults(run=_info)

    ls = commands.add_parser("ls", help="list a collection's items (files and texts; segments with --segments)",
                             epilog="examples:\n  mmret ls --collection photos --filter folder=holidays\n"
                                    "  mmret ls --collection media --segments --json | head")
    collection_option(ls)
    ls.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="only items whose metadata KEY equals VALUE (as in search)")
    ls.add_argument("--segments", action="store_true", help="also list audio and video segments")
    ls.add_argument("--json", action="store_true", help="one JSON object a line")
    ls.set_defaults(run=_ls)


def _index(args) -> int:
    from ..api import Collection
    from ..index.backend import collection_exists

    _check_index_args(args)  # before any model loads or the collection is created: a typo leaves nothing behind
    ray = ray_settings(args)
    model = args.model or (None if collection_exists(args.collection) else default_model())
    collection = Collection.open(args.collection, model, args.precision, fusion=args.fusion, device=args.device)
    report = collection.add(args.paths, sync=args.sync, batch_size=args.batch_size, workers=args.workers,
                            progress=True, on_skip=print_skip, timed=_timed_settings(args), ray=ray,
                            commit_every=args.commit_every, commit_seconds=args.commit_seconds,
                            words_from=args.words_from, faces=args.faces, min_face=args.min_face)
    print(f"{args.collection}: {report.summary()}; {len(collection)} items stored")
    return 0


def _field_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",")]
    if not all(names):
        raise BadInput(f"--words-from {value!r}: expected metadata field names separated by commas")
    return names


def _check_index_args(args) -> None:
    check_sources(Path(path).expanduser() for path in args.paths)  # missing paths, manifests without a path
    check_exist([args.pooling], "--pooling")
    if args.cut_threshold is not None and not 0 <= args.cut_threshold <= 1:
        raise BadInput(f"--cut-threshold {args.cut_threshold}: must be in [0, 1]")
    check_models([args.model])
    if args.fusion is not None:
        from ..fusion import FUSIONS

        if args.fusion not in FUSIONS:
            raise BadInput(f"--fusion {args.fusion!r}: unknown; choose from {sorted(FUSIONS)}")


def _timed_settings(args):
    from ..media.timed_settings import TimedSettings

    video = {"keyframe_every": args.keyframe_every}
    if args.cut_threshold is not None:
        video["cut_threshold"] = args.cut_threshold
    return TimedSettings(window=args.window, video=video, pooling=_pooling(args.pooling), batch_size=args.batch_size,
                         ocr=args.ocr)


def _pooling(path: str | None):
    if path is None:
        return None
    from ..encoders.pooling import AttentionPooling

    return AttentionPooling.load(path)


def _remove(args) -> int:
    from ..api import Collection

    collection = Collection.open(args.collection, create=False)
    removed = collection.remove(args.ids)
    if not removed:
        raise NotFound(f"{', '.join(args.ids)}: not in the collection {args.collection} (no such id or stored path)")
    print(f"removed {removed} items; {len(collection)} stored")
    return 0


def _info(args) -> int:
    from collections import Counter

    from ..media.segments import SEGMENT, is_segment
    from ..models import languages, query_paths

    store = common.open_store(args.collection)
    kinds = Counter(r.metadata[SEGMENT] if is_segment(r.metadata) else r.modality for r in store.records())
    words = {"fields": store.word_fields()} if store.has_words() else None  # None: keyword search is not offered
    print(json.dumps({"path": str(store.path), "model": store.model_id, "spaces": store.spaces, "items": len(store),
                      "by kind": dict(sorted(kinds.items())), "a query reaches": query_paths(store.model_id),
                      "languages": languages(store.model_id), "keyword index": words},
                     indent=2, ensure_ascii=False))
    return 0


def _ls(args) -> int:
    from ..media.segments import SETTINGS, is_segment
    from .filters import cli_where, why_nothing_matched
    from .format import with_text

    where = cli_where(args.filter)
    store = common.open_store(args.collection)
    listed = hidden = 0
    for record in store.find(where) if where else store.records():
        if is_segment(record.metadata) and not args.segments:
            hidden += 1
            continue
        listed += 1
        metadata = {key: value for key, value in record.metadata.items() if key != SETTINGS}  # internal
        if args.json:
            print(json.dumps({"id": record.item_id, "modality": record.modality, "path": record.path,
                              "text": record.text, "metadata": metadata}, ensure_ascii=False))
        else:
            what = with_text(record.path, record.text) if record.path else record.text
            print(f"{record.modality:<6} {what!s}  "
                  f"{json.dumps(metadata, ensure_ascii=False) if metadata else ''}".rstrip())
    if where and not listed:
        segments = f"the {hidden} items the filters match are segments; add --segments"
        print(f"mmret: no results: {segments if hidden else why_nothing_matched(store, where)}", file=sys.stderr)
    return 0
