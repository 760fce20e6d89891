"""`mmret search`: the nearest items to a text, an image, an audio file, or several at once."""
from __future__ import annotations

import json
import sys

from ..encoders.precision import PRECISIONS
from .common import check_exist, check_models, positive_int


def add(commands) -> None:
    search = commands.add_parser("search", help="search a collection by text, image, or both")
    search.add_argument("--collection", required=True, metavar="DIR")
    search.add_argument("--text")
    search.add_argument("--image", metavar="FILE")
    search.add_argument("--audio", metavar="FILE")
    search.add_argument("-k", type=positive_int, default=10)
    search.add_argument("--all-segments", action="store_true",
                        help="list every matching segment (default: each file once, at its best segment)")
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep items whose metadata KEY equals VALUE (repeatable; numbers and true/false are typed)")
    search.add_argument("--space", help="vector space to search (default: the best one for the query)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.add_argument("--model", help="the collection's model in another place (a moved trained model directory)")
    search.add_argument("--precision", choices=PRECISIONS, default="auto")
    search.set_defaults(run=_search)


def _search(args) -> int:
    from ..api import Collection
    from ..search import format_row, result_rows

    where = _filters(args.filter)  # every argument is checked before the model loads
    check_exist([args.image, args.audio], "query file")
    check_models([args.model])
    collection = Collection.open(args.collection, args.model, args.precision, create=False)
    for warning in _transcript_only_warnings(collection.store, args):
        print(f"mmret: warning: {warning}", file=sys.stderr)
    hits = collection.search(text=args.text, image=args.image, audio=args.audio, k=args.k,
                             where=where, space=args.space, per_file=not args.all_segments)
    rows = result_rows(hits)
    if args.json:
        query = {"text": args.text, "image": args.image, "audio": args.audio}
        print(json.dumps({"query": query, "results": rows}, ensure_ascii=False))
    else:
        for row in rows:
            print(format_row(row))
    return 0


def _transcript_only_warnings(store, args) -> list[str]:
    """Queries that can reach the collection's audio only through Whisper transcripts, not through its sound."""
    from ..models import audio_path_kinds

    kinds = audio_path_kinds(store.model_id)
    if "speech" not in kinds or "audio-tower" in kinds:
        return []
    hint = ("to search by sound, index into a new collection with --model '...+audio-tower:DIR' "
            "(a tower trained by mmret train-audio)")
    warnings = []
    if args.audio is not None:
        warnings.append(f"{store.model_id} has no sound path: the audio query is transcribed and matches what is "
                        f"said, not how it sounds; {hint}")
    if args.text is not None and store.find({"segment": "speech"}):
        warnings.append(f"the audio in this collection is reached by text only through speech transcripts; {hint}")
    return warnings


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
