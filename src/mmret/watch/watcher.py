"""Keep a collection in step with folders: a catch-up scan at start, then after each burst of file events (once
the folders have been quiet for `quiet` seconds) one rescan. Both are the incremental `index --sync` path
(pipeline/ingest.py), so a rescan embeds only new and changed files, removes vanished ones, keeps the vectors of
renamed and moved files, and commits as `mmret index` does: a kill at any moment loses at most the open commit,
and the next scan (at the latest the catch-up of the next start) converges to what the folders hold."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..api import Collection
from ..data.sources import Skipped
from ..errors import BadInput
from ..pipeline import IndexReport
from .changes import PendingChanges

log = logging.getLogger("mmret.watch")
LONGEST_WAIT = 5.0  # changes that never pause (a slow copy, a busy folder) are still indexed every few seconds
COMMIT_SECONDS = 5.0  # a long rescan (a large folder copied in) shows its first files after this, not at its end


def check_folders(folders: list[str | Path]) -> list[Path]:
    """The folders, resolved; BadInput naming the first that is missing or not a folder."""
    resolved = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.exists():
            raise BadInput(f"{folder}: no such folder to watch")
        if not path.is_dir():
            raise BadInput(f"{folder}: not a folder (watch takes folders)")
        resolved.append(path.resolve())
    return resolved


class FolderWatcher:
    def __init__(self, collection: Collection, folders: list[str | Path], quiet: float = 1.0,
                 on_scan: Callable[[str, IndexReport, float], None] | None = None,
                 on_ready: Callable[[], None] = lambda: None):
        """`on_scan(what, report, seconds)` hears of each scan ("catch-up" or "changes") that changed something;
        `on_ready()` that the catch-up scan is done."""
        self.collection, self.folders, self.quiet = collection, check_folders(folders), quiet
        self.on_scan, self.on_ready = on_scan or _log_scan, on_ready
        self.stop = threading.Event()
        self._skips_told: set[tuple[str, str]] = set()
        self._changes = PendingChanges([Path(collection.path).resolve()])

    def run(self) -> None:
        """Watch until `close()` (from another thread) or an interruption (Ctrl-C, SIGTERM in the CLI)."""
        from watchdog.observers import Observer

        observer = Observer()
        for folder in self.folders:
            observer.schedule(self._changes, str(folder), recursive=True)
        observer.start()  # before the catch-up, so that nothing changed during it goes unseen
        try:
            self._scan("catch-up")
            self.on_ready()
            while self._changes.wait_quiet(self.quiet, max(self.quiet, LONGEST_WAIT), self.stop):
                self._scan("changes")
        finally:
            observer.stop()
            observer.join()

    def start(self) -> threading.Thread:
        """`run` on a daemon thread (beside a server); `close()` ends it."""
        thread = threading.Thread(target=self.run, name="mmret-watch", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.stop.set()
        self._changes.wake()

    def _scan(self, what: str) -> None:
        started = time.monotonic()
        report = self.collection.add(self.folders, sync=True, on_skip=self._skipped, progress=False,
                                     commit_seconds=COMMIT_SECONDS)
        if report.added or report.updated or report.removed or report.moved:
            self.on_scan(what, report, time.monotonic() - started)

    def _skipped(self, skipped: Skipped) -> None:
        """Each file the collection cannot take is told once, not at every rescan."""
        key = (skipped.where, skipped.reason)
        if key not in self._skips_told:
            self._skips_told.add(key)
            log.warning("skipped %s", skipped)


def _log_scan(what: str, report: IndexReport, seconds: float) -> None:
    log.info("%s: %s (%.1f s)", what, report.summary(), seconds)
