"""`mmret search`: the nearest items to a text, an image, an audio file, a stored item, or several at once."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..encoders.precision import PRECISIONS
from .common import check_exist, check_models, collection_option, positive_int

EXAMPLES = """examples:
  mmret search "a dog on a beach" --collection photos -k 5
  mmret search --collection photos --image query.jpg --filter folder=holidays --json
  mmret search "a red car" --collection photos --paths --min-score 0.3 | xargs -d '\\n' ls -l
  mmret search --collection photos --like ~/Pictures/cat.jpg --exclude ~/Pictures/cat2.jpg"""


def add(commands) -> None:
    search = commands.add_parser("search", help="search a collection by text, image, audio, a stored item, or several",
                                 epilog=EXAMPLES)
    search.add_argument("query", nargs="?", help="text to search for (the same as --text)")
    collection_option(search)
    search.add_argument("--text", help="text to search for")
    search.add_argument("--image", metavar="FILE", help="an image to search by")
    search.add_argument("--audio", metavar="FILE", help="an audio file to search by")
    search.add_argument("--like", metavar="ID", help="a stored item (id or file path) to search by; it is left out")
    search.add_argument("-k", type=positive_int, default=10, help="results to return")
    search.add_argument("--min-score", type=float, metavar="S", help="leave out results scoring below S")
    search.add_argument("--exclude", action="append", default=[], metavar="ID",
                        help="leave out this item (id or file path; repeatable)")
    search.add_argument("--all-segments", action="store_true",
                        help="list every matching segment (default: each file once, at its best segment)")
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep items whose metadata KEY equals VALUE (repeatable; numbers and true/false are typed)")
    search.add_argument("--space", help="vector space to search (default: the best one for the query)")
    output = search.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--paths", action="store_true", help="only the results' file paths, one a line (for pipes)")
    search.add_argument("--open", action="store_true", help="also open the best result with the desktop's viewer")
    search.add_argument("--model", help="the collection's model in another place (a moved trained model directory)")
    search.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")
    search.set_defaults(run=_search)


def _search(args) -> int:
    from ..api import Collection
    from ..search import result_rows

    text, where = _query_text(args), filters(args.filter)  # every argument is checked before the model loads
    check_exist([args.image, args.audio], "query file")
    check_models([args.model])
    if text is None and args.image is None and args.audio is None and args.like is None:
        raise ValueError("search needs a query: text, --image, --audio or --like")
    collection = Collection.open(args.collection, args.model, args.precision, create=False)
    parts = {"text": text, "image": args.image, "audio": args.audio}
    exclude = _ids(args.exclude)
    if args.like is not None:
        item_id, like = _like(collection.store, args.like)
        parts.update({part: value for part, value in like.items() if parts[part] is None})
        exclude.append(item_id)
    for warning in _transcript_only_warnings(collection.store, parts):
        print(f"mmret: warning: {warning}", file=sys.stderr)
    hits = collection.search(**parts, k=args.k, where=where, space=args.space, exclude=exclude or None,
                             per_file=not args.all_segments)
    rows = [row for row in result_rows(hits) if args.min_score is None or row["score"] >= args.min_score]
    _print(rows, parts, args)
    if args.open and rows:
        _open(rows[0])
    return 0


def _query_text(args) -> str | None:
    if args.query is not None and args.text is not None:
        raise ValueError("give the text query once: as the first argument or with --text, not both")
    return args.query if args.query is not None else args.text


def _print(rows: list[dict], parts: dict, args) -> None:
    from ..search import format_row

    if args.json:
        print(json.dumps({"query": parts, "results": rows}, ensure_ascii=False))
    elif args.paths:
        for path in dict.fromkeys(row["path"] or row["id"] for row in rows):
            print(path)
    else:
        for row in rows:
            print(format_row(row))


def _ids(names: list[str]) -> list[str]:
    """Item ids as given, and as absolute paths (a file's id), so `--exclude photo.jpg` works from any folder."""
    return [variant for name in names for variant in (name, str(Path(name).expanduser().resolve()))]


def _like(store, name: str) -> tuple[str, dict]:
    """(the stored item's id, query parts that stand for it): its text, or its image or audio file."""
    record = next((r for r in map(store.get, _ids([name])) if r is not None), None)
    if record is None:
        raise ValueError(f"--like {name}: no such item in {store.path}")
    if record.text:
        return record.item_id, {"text": record.text}
    if record.modality in ("image", "audio") and record.path and Path(record.path).exists():
        return record.item_id, {record.modality: record.path}
    raise ValueError(f"--like {name}: a stored {record.modality} without text or a readable file cannot be a query")


def _open(row: dict) -> None:
    """The best result in the desktop's default application."""
    import os
    import subprocess

    target = row["path"]
    if target is None:
        raise ValueError(f"--open: result {row['id']} is a text, not a file")
    if sys.platform == "win32":
        os.startfile(target)
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", target],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _transcript_only_warnings(store, parts: dict) -> list[str]:
    """Queries that can reach the collection's audio only through Whisper transcripts, not through its sound."""
    from ..models import audio_path_kinds

    kinds = audio_path_kinds(store.model_id)
    if "speech" not in kinds or "audio-tower" in kinds:
        return []
    hint = ("to search by sound, index into a new collection with --model '...+audio-tower:DIR' "
            "(a tower trained by mmret train-audio)")
    warnings = []
    if parts.get("audio") is not None:
        warnings.append(f"{store.model_id} has no sound path: the audio query is transcribed and matches what is "
                        f"said, not how it sounds; {hint}")
    if parts.get("text") is not None and store.find({"segment": "speech"}):
        warnings.append(f"the audio in this collection is reached by text only through speech transcripts; {hint}")
    return warnings


def filters(pairs: list[str]) -> dict | None:
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
