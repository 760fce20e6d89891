"""Commands that keep a collection safe: `backup` (a consistent copy while writers go on) and `check` (verify
its stored files)."""
from __future__ import annotations

import json
import sys

from .common import collection_option

BACKUP_EXAMPLES = """examples:
  mmret backup --collection photos /mnt/backups/photos-2026-12-05   # restore: open that folder as the collection"""
CHECK_EXAMPLES = """examples:
  mmret check --collection photos          # one line per problem; exit status 6 when any is found
  mmret check --collection photos --json
  mmret check --collection photos --repair # rebuild a missing or damaged index, then check"""


def add(commands) -> None:
    backup = commands.add_parser("backup", help="copy a collection's last commit, whole, to a new folder",
                                 epilog=BACKUP_EXAMPLES)
    collection_option(backup)
    backup.add_argument("dest", metavar="DEST", help="the folder to create (must not exist)")
    backup.set_defaults(run=_backup)

    check = commands.add_parser("check", help="verify a collection's database, segment files and index",
                                epilog=CHECK_EXAMPLES)
    collection_option(check)
    check.add_argument("--json", action="store_true", help="the problems as a JSON list of {file, problem}")
    check.add_argument("--repair", action="store_true",
                       help="first rebuild what can be derived from the stored data (a missing or damaged ANN "
                            "index, the keyword index)")
    check.set_defaults(run=_check)


def _backup(args) -> int:
    from ..api import Collection

    generation = Collection.open(args.collection, create=False).backup(args.dest)
    print(f"{args.dest}: backup of {args.collection} at generation {generation}")
    return 0


def _check(args) -> int:
    from ..api import Collection
    from ..index.integrity import CollectionDamaged

    collection = Collection.open(args.collection, create=False)
    if args.repair:
        for rebuilt in collection.repair():
            what = "the keyword index" if rebuilt == "words" else f"the ANN index of space {rebuilt!r}"
            print(f"{args.collection}: rebuilt {what}", file=sys.stderr)
    problems = collection.check()
    if args.json:
        print(json.dumps([problem.to_dict() for problem in problems], indent=2))
    else:
        for problem in problems:
            print(problem)
    if problems:
        raise CollectionDamaged(f"{args.collection}: {len(problems)} problems found (listed above)")
    if not args.json:
        print(f"{args.collection}: no problems found")
        _print_faces(collection.store, args.collection)
    return 0


def _print_faces(store, name: str) -> None:
    """What a collection holds of faces, so that `faces forget` can be confirmed."""
    from ..media.face_vectors import FACE_SPACE
    from ..media.segments import SEGMENT

    if FACE_SPACE in store.spaces:
        print(f"{name}: {len(store.find({SEGMENT: 'face'}))} face segments, "
              f"{store.vector_count(FACE_SPACE)} face vectors stored")
