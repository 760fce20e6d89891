"""Startup time of the `mmret` command: this tree against an earlier commit, side by side in one run.

Each command runs in a fresh process, as a user types it; the two trees alternate run by run so that load from
other processes on a shared machine hits both alike. Reported: the median wall time of `--repeats` runs of
  - import:        python -c "import mmret.cli"
  - argument error: mmret search -k 0 ...   (fails before any model loads)
  - info:          mmret info --collection C
  - text search:   mmret search --text "a strawberry" --collection C -k 1   (import + model load + query)
  - image search:  mmret search --image IMG --collection C -k 1
on a collection of the 12 caltech101 strawberry photos, built once by this tree.

Usage: python benchmarks/startup.py [--before REV] [--repeats R]   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/startup.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="a9c6caa", help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command and tree (default: %(default)s)")
    args = parser.parse_args()
    photos = DATA / "caltech101" / "images" / "strawberry"
    if not photos.is_dir():
        sys.exit(f"{photos} not found (set MMR_DATA_DIR)")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {args.before: _export(args.before, Path(tmp) / "before"), "this tree": REPO / "src"}
        collection = Path(tmp) / "collection"
        _run(trees["this tree"], ["index", str(photos), "--collection", str(collection)], check=True)
        commands = _commands(collection, next(iter(sorted(photos.iterdir()))))
        times = {tree: {name: [] for name in commands} for tree in trees}
        for _ in range(args.repeats):
            for name, argv in commands.items():
                for tree, src in trees.items():
                    times[tree][name].append(_timed(src, argv))
    medians = {tree: {name: statistics.median(runs) for name, runs in by_name.items()} for tree, by_name in times.items()}
    print(_table(medians, args.before, args.repeats))
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "startup.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "cpus": os.cpu_count(), "load": os.getloadavg(), "repeats": args.repeats, "seconds": times,
        "medians": medians}, indent=2) + "\n")


def _commands(collection: Path, photo: Path) -> dict[str, list[str]]:
    where = ["--collection", str(collection)]
    return {"import": [], "argument error": ["search", "--text", "x", "-k", "0", *where],
            "info": ["info", *where], "text search": ["search", "--text", "a strawberry", "-k", "1", *where],
            "image search": ["search", "--image", str(photo), "-k", "1", *where]}


def _export(rev: str, folder: Path) -> Path:
    """The src/ folder of commit `rev`, without touching the repository's work trees."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def _run(src: Path, argv: list[str], check: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import mmret.cli"] if not argv else [sys.executable, "-m", "mmret.cli", *argv]
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, check=check)


def _timed(src: Path, argv: list[str]) -> float:
    started = time.perf_counter()
    _run(src, argv)
    return time.perf_counter() - started


def _table(medians: dict, before: str, repeats: int) -> str:
    names = list(next(iter(medians.values())))
    (old, new) = medians.values()
    header = f"{'command':<16}{before:>12}{'this tree':>12}{'saved':>9}"
    lines = [f"median wall seconds of {repeats} runs, fresh process each", header]
    lines += [f"{name:<16}{old[name]:>12.2f}{new[name]:>12.2f}{old[name] - new[name]:>9.2f}" for name in names]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
