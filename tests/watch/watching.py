"""A real `mmret watch` process for the tests, and what its collection holds."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mmret.index.backend import collection_exists, open_collection

READY = "Ctrl-C stops"  # the line a watcher prints once its catch-up scan is done
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def mmret(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600, check=False, **kwargs)


class Watcher:
    """`mmret watch FOLDER --collection C`, started in its own process group; output in `log`."""

    def __init__(self, folder: Path, collection: Path, log: Path):
        self.log = log
        ready_before = log.read_text().count(READY) if log.exists() else 0
        self.output = open(log, "a")  # noqa: SIM115 -- held for the process's life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mmret.cli", "watch", str(folder), "--collection", str(collection),
             "--quiet", "0.5"], stdout=self.output, stderr=subprocess.STDOUT, text=True, env=ENV,
            start_new_session=True)
        until(lambda: log.read_text().count(READY) > ready_before or self.process.poll() is not None, 300)
        assert self.process.poll() is None, log.read_text()

    def stop(self, sig=signal.SIGTERM) -> int:
        """Send `sig` to the process group and wait for it to end; its exit status."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        code = self.process.wait(timeout=120)
        self.output.close()
        return code


def until(condition, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def stored(collection: Path) -> list:
    """The records stored (committed), or [] before the collection exists."""
    if not collection_exists(collection):
        return []
    store = open_collection(collection)
    try:
        return list(store.records())
    finally:
        store.close()


def files_of(folder: Path) -> list[str]:
    """What the folder holds that a collection takes: every file but hidden ones, by resolved path."""
    return sorted(str(p.resolve()) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def in_step(folder: Path, collection: Path) -> bool:
    """The collection holds each file of the folder once, and nothing else."""
    return sorted(r.path for r in stored(collection)) == files_of(folder)
