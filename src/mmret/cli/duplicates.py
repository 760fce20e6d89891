"""`mmret duplicates`: groups of near-identical items, each with its best copy first."""
from __future__ import annotations

import json

from ..query.duplicates import DEFAULT_THRESHOLD
from . import common
from .common import collection_option

EXAMPLES = """examples:
  mmret duplicates --collection photos                  # exact copies and resized/recompressed/cropped ones
  mmret duplicates --collection photos --threshold 0.9 --json"""


def add(commands) -> None:
    duplicates = commands.add_parser("duplicates", help="groups of near-identical items, the best copy first",
                                     epilog=EXAMPLES)
    collection_option(duplicates)
    duplicates.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="T",
                            help="cosine similarity at or above which two items are copies")
    duplicates.add_argument("--space", help="the vector space compared (default: image if the collection has it, "
                                            "else shared)")
    duplicates.add_argument("--texts", action="store_true", help="also group text items")
    duplicates.add_argument("--segments", action="store_true", help="also group audio and video segments")
    duplicates.add_argument("--json", action="store_true", help="one JSON object: the groups")
    duplicates.set_defaults(run=_duplicates)


def _duplicates(args) -> int:
    from ..query.duplicates import duplicates_json, find_duplicates

    store = common.open_store(args.collection)
    if args.json:
        print(json.dumps(duplicates_json(store, args.threshold, args.space, args.texts, args.segments),
                         ensure_ascii=False))
        return 0
    groups = find_duplicates(store, args.threshold, args.space, args.texts, args.segments)
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group.copies)} copies")
        for copy in group.copies:
            kind = "best " if copy is group.copies[0] else "exact" if copy.exact else f"{copy.similarity:.3f}"
            print(f"  {kind}  {copy.record.path or copy.record.item_id}")
    print(f"{len(groups)} groups, {sum(len(g.copies) - 1 for g in groups)} copies besides the best")
    return 0
