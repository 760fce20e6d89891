"""Commands that keep a collection safe: `backup` (a consistent copy while writers go on)."""
from __future__ import annotations

from .common import collection_option

BACKUP_EXAMPLES = """examples:
  mmret backup --collection photos /mnt/backups/photos-2026-12-05   # restore: open that folder as the collection"""


def add(commands) -> None:
    backup = commands.add_parser("backup", help="copy a collection's last commit, whole, to a new folder",
                                 epilog=BACKUP_EXAMPLES)
    collection_option(backup)
    backup.add_argument("dest", metavar="DEST", help="the folder to create (must not exist)")
    backup.set_defaults(run=_backup)


def _backup(args) -> int:
    from ..api import Collection

    generation = Collection.open(args.collection, create=False).backup(args.dest)
    print(f"{args.dest}: backup of {args.collection} at generation {generation}")
    return 0
