"""Ctrl-C and SIGTERM during a real `mmret index` (issue 28, item 1): commits come by time as well as by count,
and the last line says exactly what was kept, which the collection and the re-run confirm."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from mmret.index.backend import collection_exists, open_collection

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
PHOTOS = 96


@pytest.fixture(scope="module")
def photos(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for image in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:PHOTOS]:
        shutil.copy(image, folder)
    return folder


def index(photos, collection, *options) -> list[str]:
    return [sys.executable, "-m", "mmret.cli", "index", str(photos), "--collection", str(collection),
            "--batch-size", "4", "--workers", "1", *options]


def stored(collection) -> int:
    if not collection_exists(collection):
        return 0
    store = open_collection(collection)
    try:
        return len(store)
    finally:
        store.close()


def embedded(progress: str) -> int:
    """How many items the last embedding progress bar in `progress` has counted (0 before it shows)."""
    counts = re.findall(rf"embedding:[^\r\n]*?\| *(\d+)/{PHOTOS}", progress)
    return int(counts[-1]) if counts else 0


def interrupted(command: list[str], log, ready, sig=signal.SIGINT) -> subprocess.CompletedProcess:
    """Run `command`, send `sig` once `ready()` holds, and return how it ended (stderr in `log`)."""
    with open(log, "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=ENV)
        deadline = time.monotonic() + 300
        while not ready() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(sig)
        stdout, _ = process.communicate(timeout=120)
    return subprocess.CompletedProcess(command, process.returncode, stdout, log.read_text())


def test_ctrl_c_after_a_timed_commit_says_how_many_were_kept(photos, tmp_path):
    collection = tmp_path / "c"
    command = index(photos, collection, "--commit-seconds", "0.5")  # --commit-every stays 1024: time commits
    result = interrupted(command, tmp_path / "err", lambda: stored(collection) > 0)
    assert result.returncode == 130
    last = result.stderr.strip().splitlines()[-1]
    kept = re.fullmatch(rf"interrupted: kept (\d+) of {PHOTOS}; run again to add the rest", last)
    assert kept, last
    assert stored(collection) == int(kept[1]) > 0
    again = subprocess.run(index(photos, collection), capture_output=True, text=True, env=ENV, check=False)
    assert again.returncode == 0, again.stderr
    assert f"{PHOTOS - int(kept[1])} added, 0 updated, {kept[1]} unchanged" in again.stdout


def test_sigterm_before_any_commit_says_nothing_was_kept(photos, tmp_path):
    collection = tmp_path / "c"
    log = tmp_path / "err"
    result = interrupted(index(photos, collection, "--commit-seconds", "3600"), log,
                         lambda: 0 < embedded(log.read_text()) < PHOTOS // 2, signal.SIGTERM)
    assert result.returncode == 143
    assert result.stderr.strip().splitlines()[-1] == "terminated: nothing was committed yet", result.stderr[-3000:]
    assert stored(collection) == 0
