"""`mmret duplicates`: groups of near-identical items, each with its best copy first."""
from __future__ import annotations

import json

from ..query.duplicates import DEFAULT_HASH_DISTANCE, DEFAULT_THRESHOLD
from . import common
from .common import collection_option

EXAMPLES = """examples:
  mmret duplicates --collection photos                  # exact copies and resized/recompressed/cropped ones
  mmret duplicates --collection photos --threshold 0.9 --json
  mmret duplicates --collection photos --exclude-from-search   # search shows only each group's best copy
  mmret duplicates --collection photos --include-in-search     # ... and every copy again"""


def add(commands) -> None:
    duplicates = commands.add_parser("duplicates", help="groups of near-identical items, the best copy first",
                                     epilog=EXAMPLES)
    collection_option(duplicates)
    duplicates.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="T",
                            help="cosine similarity at or above which two items are copies")
    duplicates.add_argument("--hash-distance", type=int, default=DEFAULT_HASH_DISTANCE, metavar="BITS",
                            help="photos whose perceptual hashes differ in at most BITS of 63 are copies too, when "
                                 "their vectors are close enough to be compared (-1: vectors only)")
    duplicates.add_argument("--space", help="the vector space compared (default: image if the collection has it, "
                                            "else shared)")
    duplicates.add_argument("--texts", action="store_true", help="also group text items")
    duplicates.add_argument("--segments", action="store_true", help="also group audio and video segments")
    duplicates.add_argument("--json", action="store_true", help="one JSON object: the groups")
    hiding = duplicates.add_mutually_exclusive_group()
    hiding.add_argument("--exclude-from-search", action="store_true",
                        help="hide every copy but the best of each group from search (kept with the collection)")
    hiding.add_argument("--include-in-search", action="store_true", help="show every hidden copy in search again")
    duplicates.set_defaults(run=_duplicates)


def _duplicates(args) -> int:
    from ..query.duplicates import default_space, find_duplicates, groups_json
    from ..query.hidden_copies import hidden_copies, hide_copies, show_copies

    store = common.open_store(args.collection)
    if args.include_in_search:
        print(f"{show_copies(store)} hidden copies are shown in search again")
        return 0
    hash_distance = None if args.hash_distance < 0 else args.hash_distance
    groups = find_duplicates(store, args.threshold, args.space, args.texts, args.segments, hash_distance)
    if args.exclude_from_search:
        hide_copies(store, groups)
    if args.json:
        print(json.dumps(groups_json(groups, args.threshold, args.space or default_space(store), hash_distance),
                         ensure_ascii=False))
        return 0
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group.copies)} copies")
        for copy in group.copies:
            kind = "best " if copy is group.copies[0] else "exact" if copy.exact else f"{copy.similarity:.3f}"
            print(f"  {kind}  {copy.record.path or copy.record.item_id}")
    print(f"{len(groups)} groups, {sum(len(g.copies) - 1 for g in groups)} copies besides the best")
    if args.exclude_from_search:
        print(f"{len(hidden_copies(store))} copies hidden from search (--include-in-search shows them again)")
    return 0
