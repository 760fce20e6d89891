"""File-system events -> "something changed, and when": the watcher rescans its folders once they have been quiet
for a while, so the events themselves only need to say that and when, not what."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)

# reading a file (ours, to embed or hash it, or anyone's) changes nothing a collection stores
_READS = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})


class PendingChanges(FileSystemEventHandler):
    """Counts the events since the last `take`, ignoring reads and anything inside the `ignored` folders (the
    collection's own, whose commits would otherwise wake the watcher forever)."""

    def __init__(self, ignored: list[Path]):
        self.ignored = [str(folder) for folder in ignored]
        self.condition = threading.Condition()
        self.count = 0
        self.first = self.last = 0.0  # time.monotonic() of the first and the last event counted since `take`

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _READS or all(self._ignored(p) for p in (event.src_path, event.dest_path) if p):
            return
        with self.condition:
            self.last = time.monotonic()
            if self.count == 0:
                self.first = self.last
            self.count += 1
            self.condition.notify_all()

    def wait_quiet(self, quiet: float, longest: float, stop: threading.Event) -> int:
        """Block until events have come and then none for `quiet` seconds, or for `longest` seconds since the first
        of them while they keep coming (returns how many), or until `stop` is set (returns 0). Sleeps without
        polling while nothing happens."""
        with self.condition:
            while not stop.is_set():
                if self.count == 0:
                    self.condition.wait()
                    continue
                left = min(self.last + quiet, self.first + longest) - time.monotonic()
                if left <= 0:
                    count, self.count = self.count, 0
                    return count
                self.condition.wait(left)
        return 0

    def wake(self) -> None:
        """Wake a waiting `wait_quiet` (after its `stop` was set)."""
        with self.condition:
            self.condition.notify_all()

    def _ignored(self, path: str | bytes) -> bool:
        path = path.decode(errors="surrogateescape") if isinstance(path, bytes) else path
        return any(path == folder or path.startswith(folder + "/") for folder in self.ignored)
