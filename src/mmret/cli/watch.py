"""`mmret watch`: keep a collection in step with folders until Ctrl-C (mmret[watch])."""
from __future__ import annotations

import logging

from ..errors import MissingPackage
from . import common
from .common import check_models, collection_option, default_model, model_options

EXAMPLES = """examples:
  mmret watch ~/Pictures --collection photos               # Ctrl-C stops; what was committed stays
  mmret watch ~/Pictures ~/Notes --collection library --quiet 2"""


def add(commands) -> None:
    watch = commands.add_parser("watch", epilog=EXAMPLES,
                                help="keep a collection in step with folders: new, changed, moved and deleted files")
    watch.add_argument("folders", nargs="+", metavar="DIR", help="folders to watch (with their subfolders)")
    collection_option(watch)
    watch.add_argument("--quiet", type=common.positive_float, default=1.0, metavar="SECONDS",
                       help="a burst of changes is indexed once the folders have been quiet this long")
    model_options(watch, default=None)
    common.device_option(watch)
    watch.set_defaults(run=_watch)


def _watch(args) -> int:
    from ..api import Collection
    from ..index.backend import collection_exists

    try:
        from ..watch import FolderWatcher, check_folders
    except ImportError as error:
        raise MissingPackage(f"mmret watch needs watchdog: pip install 'mmret[watch]' ({error})") from error
    folders = check_folders(args.folders)  # before a model loads or a collection is created
    check_models([args.model])
    logging.getLogger("mmret.watch").setLevel(logging.INFO)
    model = args.model or (None if collection_exists(args.collection) else default_model())
    collection = Collection.open(args.collection, model, args.precision, device=args.device)
    watcher = FolderWatcher(collection, folders, args.quiet,
                            on_ready=lambda: print(f"watching {', '.join(map(str, folders))}; Ctrl-C stops",
                                                   flush=True))
    watcher.run()
    return 0
