"""The loader's worker processes under signals, through a real `mmret index` on the shared Caltech-101 photos:
they die with a SIGKILLed parent, and SIGTERM or Ctrl-C stop the run with one line, keeping the last commit."""
from __future__ import annotations

import os
import shutil
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


def start_index(photos: Path, collection: Path, model: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mmret.cli", "index", str(photos), "--collection", str(collection),
                             "--model", str(model), "--workers", "2", "--batch-size", "4",
                             "--commit-seconds", "3600"],  # no commit of its own before it is stopped
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)


def wait_for_workers(process: subprocess.Popen) -> set[int]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if len(workers := children(process.pid)) >= 2:
            return workers
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no decode workers appeared: {process.communicate()[1][-2000:]}")


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive(pids)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
FIRST_COMMIT = "ant"  # a class folder indexed before each run, so there is a last commit to keep
RUNS = ("kill", "term", "int")


@pytest.fixture(scope="module")
def runs(data_dir, tiny_clip, tmp_path_factory) -> dict[str, tuple[subprocess.Popen, set[int], Path]]:
    """Three `mmret index` runs over all Caltech-101 photos, started at once (their start-up is most of the
    cost), each over a collection already holding one commit; returned once each one's workers are up."""
    from mmret.api import Collection

    root = tmp_path_factory.mktemp("runs")
    photos = data_dir / "caltech101" / "images"
    Collection.open(root / "seed", str(tiny_clip)).add([photos / FIRST_COMMIT], workers=0)
    processes = {}
    for name in RUNS:
        shutil.copytree(root / "seed", root / name)
        processes[name] = start_index(photos, root / name, tiny_clip)
    started = {name: (process, wait_for_workers(process), root / name) for name, process in processes.items()}
    yield started
    for process, workers, _ in started.values():  # pipes are closed, not read: orphans would hold them open
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()
        for pid in alive(workers):
            os.kill(pid, signal.SIGKILL)


def test_workers_exit_when_the_indexing_parent_is_killed(runs):
    process, workers, _ = runs["kill"]
    process.kill()
    process.wait()
    assert wait_gone(workers, 5) == set(), "decode workers outlived their SIGKILLed parent"


@pytest.mark.parametrize("run, stop, code, word", [("term", signal.SIGTERM, 143, "terminated"),
                                                   ("int", signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_ctrl_c_stop_cleanly_with_one_line_and_keep_the_last_commit(data_dir, runs, run, stop, code,
                                                                               word):
    from mmret.api import Collection

    process, workers, collection = runs[run]
    os.killpg(process.pid, stop)  # the whole group, as a terminal's Ctrl-C or a service manager does
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == code
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.strip().splitlines()[-1].endswith(f"{word}: nothing was committed yet")
    assert wait_gone(workers, 5) == set()
    first = list((data_dir / "caltech101" / "images" / FIRST_COMMIT).glob("*.jpg"))
    assert len(Collection.open(collection, create=False)) == len(first)
