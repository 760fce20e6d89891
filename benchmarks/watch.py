"""A watched folder (`mmret watch`): how soon a burst of changes is reflected, and what the idle watcher costs.

The folder starts with --texts small text files (flickr8k-500 captions, one per file) and --photos small photos
(caltech101, resized to 96 px): mostly text, so that embedding does not dominate what is measured (every photo is
still embedded at the model's 224 px). Each round makes --operations file operations spread over --seconds
(creations, modifications of text files, deletions, renames into another folder; a tenth of the creations are
photos), then a burst of --burst copies of existing files into a new folder, all at once. The time from the
burst's end until the collection holds exactly the folder (each file once, each text file with its current text)
is the figure; the peer, run on a copy of the collection as it was before the round, is what a user without a
watcher runs afterwards: `mmret index DIR --sync` (model load included). Then the watcher's CPU time (its process
group, from /proc) over --idle seconds with nothing changing.

Usage: python benchmarks/watch.py [--rounds 3] [--operations 800] [--burst 200] [--seconds 60] [--idle 30]
Prints a table and writes benchmarks/out/watch.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image

from mmret.index.backend import open_collection

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
TICKS = os.sysconf("SC_CLK_TCK")


def mmret(*args) -> list[str]:
    return [sys.executable, "-m", "mmret.cli", *map(str, args)]


class Library:
    """The watched folder and the operations made on it, from a seeded generator."""

    def __init__(self, folder: Path, texts: int, photos: int, rng: random.Random):
        self.folder, self.rng, self.made = folder, rng, 0
        captions = json.loads((DATA / "flickr8k-500" / "captions.json").read_text())
        self.captions = [caption for row in captions for caption in row["captions"]]
        (folder / "moved").mkdir(parents=True)
        self.photos = sorted((DATA / "caltech101" / "images").glob("*/*.jpg"))[::37]
        for _ in range(texts):
            self.create(text=True)
        for _ in range(photos):
            self.create(text=False)

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def create(self, text: bool) -> None:
        self.made += 1
        if text:
            (self.folder / f"note-{self.made}.txt").write_text(self.rng.choice(self.captions))
        else:
            with Image.open(self.rng.choice(self.photos)) as image:
                image.convert("RGB").resize((96, 96)).save(self.folder / f"photo-{self.made}.jpg", quality=85)

    def operate(self) -> None:
        kind, files = self.rng.random(), self.files()
        chosen = self.rng.choice(files)
        if kind < 0.3:
            self.create(text=self.rng.random() >= 0.1)
        elif kind < 0.6:
            texts = [p for p in files if p.suffix == ".txt"]
            self.rng.choice(texts).write_text(self.rng.choice(self.captions))
        elif kind < 0.75:
            chosen.unlink()
        else:
            self.made += 1
            chosen.rename(self.folder / "moved" / f"{self.made}-{chosen.name}")

    def burst(self, count: int, name: str) -> None:
        target = self.folder / name
        target.mkdir()
        for number, path in enumerate(self.rng.sample(self.files(), count)):
            shutil.copy(path, target / f"{number}-{path.name}")

    def in_step(self, collection: Path) -> bool:
        store = open_collection(collection)
        try:
            stored = {r.path: r.text for r in store.records()}
        finally:
            store.close()
        expected = {str(p.resolve()): (p.read_text() if p.suffix == ".txt" else None) for p in self.files()}
        self.difference = {path: (stored.get(path, "absent"), expected.get(path, "absent"))
                           for path in set(stored) ^ set(expected) | {p for p in stored if stored[p] != expected.get(p)}}
        return not self.difference


def group_cpu_seconds(leader: int) -> float:
    """User + system CPU time of every live process in the group led by `leader`."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def until(condition, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)  # the check reads every file: more often would take CPU from the watcher
    return None


def run(args, work: Path) -> dict:
    library = Library(work / "library", args.texts, args.photos, random.Random(0))
    collection = work / "collection"
    subprocess.run(mmret("index", library.folder, "--collection", collection), check=True, env=ENV,
                   capture_output=True)
    log = open(work / "watch.log", "w")  # noqa: SIM115 -- held for the watcher's life
    watcher = subprocess.Popen(mmret("watch", library.folder, "--collection", collection), stdout=log,
                               stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    try:
        if until(lambda: "Ctrl-C stops" in (work / "watch.log").read_text(), 300) is None:
            raise RuntimeError(f"the watcher did not start: {(work / 'watch.log').read_text()[-500:]}")
        try:
            rounds = [one_round(args, library, collection, work, number) for number in range(args.rounds)]
        except RuntimeError:
            print((work / "watch.log").read_text()[-3000:], file=sys.stderr)
            raise
        before = group_cpu_seconds(watcher.pid)
        time.sleep(args.idle)
        idle = (group_cpu_seconds(watcher.pid) - before) / args.idle
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
        log.close()
    scans = [float(line.rsplit("(", 1)[1].split()[0]) for line in (work / "watch.log").read_text().splitlines()
             if line.startswith("INFO changes:")]
    return {"rounds": rounds, "idle_cpu_percent": round(100 * idle, 2), "files_at_end": len(library.files()),
            "rescans": len(scans), "rescan_median_s": statistics.median(scans) if scans else None,
            "rescan_max_s": max(scans, default=None)}


def one_round(args, library: Library, collection: Path, work: Path, number: int) -> dict:
    snapshot = work / f"before-{number}"
    shutil.copytree(collection, snapshot)  # the watcher is idle between rounds: one committed state
    started = time.monotonic()
    for step in range(args.operations):
        library.operate()
        time.sleep(max(0.0, started + (step + 1) * args.seconds / args.operations - time.monotonic()))
    library.burst(args.burst, f"burst-{number}")
    burst_end = time.monotonic()
    reflected = until(lambda: library.in_step(collection), 300)
    if reflected is None:
        raise RuntimeError(f"round {number}: not in step after 300 s: {sorted(library.difference.items())[:5]}")
    reflected = time.monotonic() - burst_end
    peer_started = time.monotonic()
    subprocess.run(mmret("index", library.folder, "--collection", snapshot, "--sync"), check=True, env=ENV,
                   capture_output=True)
    peer = time.monotonic() - peer_started
    shutil.rmtree(snapshot)
    return {"operations": args.operations + args.burst, "seconds": round(burst_end - started, 1),
            "reflected_s": round(reflected, 2), "index_sync_s": round(peer, 2), "files": len(library.files())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=400, help="text files at the start (default: 400)")
    parser.add_argument("--photos", type=int, default=40, help="photos at the start (default: 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of operations and burst (default: 3)")
    parser.add_argument("--operations", type=int, default=800, help="operations per round before the burst")
    parser.add_argument("--burst", type=int, default=200, help="copies in the burst ending each round")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds the operations are spread over")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmret-watch-") as work:
        result = run(args, Path(work))
    reflected = [r["reflected_s"] for r in result["rounds"]]
    peer = [r["index_sync_s"] for r in result["rounds"]]
    print(f"\n{'round':<7}{'operations':>11}{'in s':>7}{'files':>7}{'watch: reflected s':>20}{'index --sync s':>16}")
    for number, r in enumerate(result["rounds"]):
        print(f"{number:<7}{r['operations']:>11}{r['seconds']:>7}{r['files']:>7}{r['reflected_s']:>20}"
              f"{r['index_sync_s']:>16}")
    print(f"median{'':>32}{statistics.median(reflected):>20}{statistics.median(peer):>16}")
    print(f"idle watcher CPU over {args.idle:.0f} s: {result['idle_cpu_percent']} % of one core; "
          f"{result['rescans']} rescans, median {result['rescan_median_s']} s, longest {result['rescan_max_s']} s")
    result.update(settings=vars(args), median_reflected_s=statistics.median(reflected),
                  median_index_sync_s=statistics.median(peer), machine=platform.platform(), cpus=os.cpu_count(),
                  date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  commit=subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                                        cwd=ROOT).stdout.strip())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "watch.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
