"""`mmret search`: the nearest items to a text, an image, an audio file, a stored item, or several at once."""
from __future__ import annotations

import json
import sys

from ..encoders.precision import PRECISIONS
from ..errors import BadInput
from .common import (
    check_exist,
    check_models,
    collection_option,
    device_option,
    positive_int,
)

EXAMPLES = """examples:
  mmret search "a dog on a beach" --collection photos -k 5
  mmret search --collection photos --image query.jpg --filter folder=holidays --json
  mmret search "a red car" --collection photos --paths --min-score 0.3 | xargs -d '\\n' ls -l
  mmret search --collection photos --like ~/Pictures/cat.jpg --exclude ~/Pictures/cat2.jpg
  mmret search --collection photos --like ~/Pictures/cat.jpg --like -~/Pictures/dog.jpg --text "at night^0.5"
  mmret search --collection shop --image shoe.jpg --text "in red^0.5" --text -people   # composed: weights, negatives
  mmret search "red running shoes" --collection shop --fusion rrf                      # one list per part space
  mmret search 'IMG_2031 "beach day" -night' --collection photos --mode keyword       # words, a phrase, not night
  mmret search --collection photos --face group.jpg#2        # photos of the 2nd face from the left (needs --faces)

Query parts repeat; each may be written -PART (pull away from it) and PART^WEIGHT."""
QUERY_PART_FLAGS = ("--text", "--image", "--audio", "--like")


def add(commands) -> None:
    search = commands.add_parser("search", help="search a collection by text, image, audio, a stored item, or several",
                                 epilog=EXAMPLES)
    search.add_argument("query", nargs="?", help="text to search for (the same as --text)")
    collection_option(search)
    search.add_argument("--text", action="append", default=[], help="text to search for (repeatable)")
    search.add_argument("--image", action="append", default=[], metavar="FILE", help="an image to search by")
    search.add_argument("--audio", action="append", default=[], metavar="FILE", help="an audio file to search by")
    search.add_argument("--mode", choices=("hybrid", "semantic", "keyword"),
                        help="keyword: the words of items' text, file names and --words-from fields (BM25; \"a "
                             "phrase\", prefix*, -word); semantic: vectors; hybrid: both lists fused (default where "
                             "the collection has a keyword index, else semantic)")
    search.add_argument("--fusion", metavar="rrf|combsum|combmnz|combprod",
                        help="fuse one result list per query part and space (default: one fused query vector)")
    search.add_argument("--norm", default="min-max", metavar="min-max|z-score|none",
                        help="score normalisation of each list for --fusion combsum and combmnz")
    search.add_argument("--like", action="append", default=[], metavar="ID",
                        help="a stored item (id or file path) to search by, with the vectors the collection keeps for "
                             "it (its file is not read); it and its file's segments are left out (repeatable)")
    search.add_argument("--face", metavar="PHOTO[#N]",
                        help="the files showing the person whose face is in PHOTO (its largest face, or its N-th from "
                             "the left); searches the faces found by `mmret index --faces`, alone")
    search.add_argument("-k", type=positive_int, default=10, help="results to return")
    search.add_argument("--min-score", type=float, metavar="S",
                        help="leave out results scoring below S (the mode's score: cosine similarity in semantic "
                             "mode, BM25 in keyword mode, the fused score in hybrid mode)")
    search.add_argument("--min-relevance", type=float, metavar="P",
                        help="leave out results whose calibrated relevance (a probability, text queries) is below P")
    search.add_argument("--exclude", action="append", default=[], metavar="ID",
                        help="leave out this item (id or file path; repeatable)")
    search.add_argument("--all-segments", action="store_true",
                        help="list every matching segment (default: each file once, at its best segment)")
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep items whose metadata KEY matches: KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, "
                             "KEY<VALUE, KEY<=VALUE (also modality, path, path_prefix). Repeatable: filters on "
                             "different keys must all hold (AND); several KEY=VALUE on one key mean any of the "
                             "values (OR, an IN list), e.g. --filter folder=cats --filter folder=dogs "
                             "--filter width>=640. Numbers and true/false are typed; a number also matches a "
                             "stored text that spells it (CSV cells). A key that no item has is warned about")
    search.add_argument("--ef-search", type=positive_int, help="HNSW candidate list size (default: tuned by optimize)")
    search.add_argument("--nprobe", type=positive_int, help="IVF lists to visit (default: tuned by optimize)")
    search.add_argument("--shortlist", type=positive_int, help="IVF-PQ candidates re-ranked exactly (default: tuned)")
    search.add_argument("--space", help="vector space to search (default: the best one for the query)")
    output = search.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--paths", action="store_true", help="only the results' file paths, one a line (for pipes)")
    search.add_argument("--open", action="store_true", help="also open the best result with the desktop's viewer")
    search.add_argument("--model", help="the collection's model in another place (a moved trained model directory)")
    search.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")
    device_option(search)
    search.set_defaults(run=_search)


def _search(args) -> int:
    from ..api import Collection
    from ..index.base import SearchParams
    from ..query.parts import QUERY_MODALITIES
    from ..query.rows import result_rows
    from .filters import cli_where, why_nothing_matched

    where = cli_where(args.filter)  # every argument is checked before the model loads
    params = SearchParams.from_dict({"ef_search": args.ef_search, "nprobe": args.nprobe, "shortlist": args.shortlist})
    query_parts = _query_parts(args)
    check_exist([str(p.value) for p in query_parts if p.modality in ("image", "audio")], "query file")
    check_models([args.model])
    if args.face is not None:
        return _search_face(args, where, query_parts)
    if not query_parts:
        raise BadInput("search needs a query: text, --image, --audio, --like or --face")
    collection = Collection.open(args.collection, args.model, args.precision, create=False, device=args.device)
    parts = {m: next((p.value for p in query_parts if p.modality == m and not p.negative), None)
             for m in QUERY_MODALITIES}  # the first positive part of each kind
    for warning in _transcript_only_warnings(collection.store, parts):
        print(f"mmret: warning: {warning}", file=sys.stderr)
    for key in collection.store.absent_filter_keys(where) if where else []:
        print(f"mmret: warning: no item of {args.collection} has the metadata key {key!r}", file=sys.stderr)
    hits = collection.search(parts=query_parts, k=args.k, where=where, space=args.space, exclude=args.exclude or None,
                             per_file=not args.all_segments, fusion=args.fusion, norm=args.norm, params=params,
                             mode=args.mode, min_relevance=args.min_relevance)
    rows = [row for row in result_rows(hits) if args.min_score is None or row["score"] >= args.min_score]
    query = {**{m: None if v is None else str(v) for m, v in parts.items()}, "fusion": args.fusion, "mode": args.mode,
             "parts": [{"modality": p.modality, "value": str(p.value), "weight": p.weight} for p in query_parts]}
    _print(rows, query, args)
    if not rows:
        reason = why_nothing_matched(collection.store, where) if where else None
        print(f"mmret: no results{f': {reason}' if reason else ''}", file=sys.stderr)
    if args.open and rows:
        _open(rows[0])
    return 0


def _search_face(args, where: dict | None, query_parts: list) -> int:
    from ..api import Collection
    from ..query.faces import face_argument
    from ..query.rows import result_rows

    if query_parts:
        raise BadInput("--face: a face search takes no other query parts (text, --image, --audio, --like)")
    check_exist([str(face_argument(args.face)[0])], "--face")
    collection = Collection.open(args.collection, create=False)  # faces need no model
    hits = collection.search(face=args.face, k=args.k, where=where, exclude=args.exclude or None,
                             per_file=not args.all_segments)
    rows = [row for row in result_rows(hits) if args.min_score is None or row["score"] >= args.min_score]
    _print(rows, {"face": args.face}, args)
    if not rows:
        print("mmret: no results", file=sys.stderr)
    return 0


def _query_parts(args) -> list:
    """The query parts as written: the positional text and every --text, --image, --audio and --like."""
    from ..query.parts import ITEM, QUERY_MODALITIES, parse_part

    texts = ([args.query] if args.query is not None else []) + args.text
    written = {"text": texts, "image": args.image, "audio": args.audio, ITEM: args.like}
    return [parse_part(modality, value) for modality in QUERY_MODALITIES for value in written[modality]]


def attached_part_values(argv: list[str]) -> list[str]:
    """["--text", "-people"] -> ["--text=-people"]: a negative query part is a value, not an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in QUERY_PART_FLAGS and arg.startswith("-") and len(arg) > 1:
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _print(rows: list[dict], parts: dict, args) -> None:
    from .format import format_row

    if args.json:
        print(json.dumps({"query": parts, "results": rows}, ensure_ascii=False))
    elif args.paths:
        for path in dict.fromkeys(row["path"] or row["id"] for row in rows):
            print(path)
    else:
        for row in rows:
            print(format_row(row))


def _open(row: dict) -> None:
    """The best result in the desktop's default application."""
    import os
    import subprocess

    target = row["path"]
    if target is None:
        raise BadInput(f"--open: result {row['id']} is a text, not a file")
    if sys.platform == "win32":
        os.startfile(target)
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", target],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _transcript_only_warnings(store, parts: dict) -> list[str]:
    """Queries that can reach the collection's audio only through Whisper transcripts, not through its sound."""
    from ..encoders.model_id import AUDIO_TOWER, SPEECH, ModelId
    from ..media.segments import SEGMENT

    kinds = ModelId.parse(store.model_id).audio_kinds
    if SPEECH not in kinds or AUDIO_TOWER in kinds:
        return []
    hint = ("to search by sound, index into a new collection with --model '...+audio-tower:DIR' "
            "(a tower trained by mmret train-audio)")
    warnings = []
    if parts.get("audio") is not None:
        warnings.append(f"{store.model_id} has no sound path: the audio query is transcribed and matches what is "
                        f"said, not how it sounds; {hint}")
    if parts.get("text") is not None and store.find({SEGMENT: "speech"}):
        warnings.append(f"the audio in this collection is reached by text only through speech transcripts; {hint}")
    return warnings
