"""The loader's worker processes under signals, through a real `mmret index` on the shared Caltech-101 photos:
they die with a SIGKILLed parent, and SIGTERM or Ctrl-C stop the run with one line, keeping the last commit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def start_index(photos: Path, collection: Path, model: Path) -> tuple[subprocess.Popen, set[int]]:
    """A running `mmret index` and its decode workers, once they are up."""
    process = subprocess.Popen([sys.executable, "-m", "mmret.cli", "index", str(photos), "--collection",
                                str(collection), "--model", str(model), "--workers", "2", "--batch-size", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(workers := children(process.pid)) >= 2:
            return process, workers
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no decode workers appeared: {process.communicate()[1][-2000:]}")


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


@pytest.fixture
def caltech(data_dir) -> Path:
    return data_dir / "caltech101" / "images"


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def test_workers_exit_when_the_indexing_parent_is_killed(tmp_path, caltech, tiny_clip):
    process, workers = start_index(caltech, tmp_path / "coll", tiny_clip)
    process.kill()
    process.wait()
    assert wait_gone(workers, 5) == set(), "decode workers outlived their SIGKILLed parent"
    process.stdout.close()
    process.stderr.close()


@pytest.mark.parametrize("stop, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_stop_cleanly_with_one_line_and_keep_the_last_commit(
        tmp_path, caltech, tiny_clip, stop, code, word):
    from mmret.api import Collection

    first = sorted(caltech.glob("ant/*.jpg"))
    Collection.open(tmp_path / "coll", str(tiny_clip)).add(first, workers=0)
    process, workers = start_index(caltech, tmp_path / "coll", tiny_clip)
    os.killpg(process.pid, stop)  # the whole group, as a terminal's Ctrl-C or a service manager does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1].endswith(f"{word}: committed work is kept; run the same command again "
                                                     "to resume")
    assert wait_gone(workers, 5) == set()
    assert len(Collection.open(tmp_path / "coll", create=False)) == len(first)
