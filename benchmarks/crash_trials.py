"""SIGKILL every writer of a collection at random moments, then check what it left.

Writers, each started the way a user starts it: `mmret index` (commits every 16 items), `mmret remove`,
`mmret index --sync`, `mmret optimize`, `mmret import`, `mmret serve` adding files over HTTP, and `mmret watch`
on a folder that a burst changes (crash_watch.py: its own checks, by content). Each trial
starts the writer on a copy of a known collection, kills it (with its process group) at a uniformly random
moment of its calibrated run time, and checks that:
  - the collection opens, with no temp or unlisted data file left after opening;
  - every item committed before the kill is there, and every item there is exactly the oracle's (a complete
    reference run): same record fields, same vector in each of its spaces and in no other space;
  - rows and vectors agree in every space (each row's vectors are there, no vector without a row);
  - the keyword index has a row for exactly the stored items, and a sample of words taken from the items' text
    and file names finds their items through it;
  - re-running the writer completes and leaves exactly the expected items, once each.

    flock /work/heavy.lock python benchmarks/crash_trials.py           # full run (50 + 20 x 5 trials)
    python benchmarks/crash_trials.py --index-trials 3 --trials 2      # a short one
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
KEY = "crash-trials-key"


def mmret(*args: object, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mmret.cli", *map(str, args)], env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)


def finished(*args: object) -> None:
    process = mmret(*args)
    _, err = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"mmret {' '.join(map(str, args))} failed: {err.strip()[-500:]}")


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the writer and its decode workers at once
    except ProcessLookupError:
        pass
    process.communicate(timeout=60)


# -- the oracle and the checks -------------------------------------------------------------------------------

@dataclass
class Oracle:
    """What each item must be if it is there: its record and its vector per space."""
    records: dict = field(default_factory=dict)
    vectors: dict = field(default_factory=dict)  # item_id -> {space: vector}

    @classmethod
    def of(cls, path: Path) -> Oracle:
        from mmret.index.collection import VectorCollection

        oracle = cls()
        with VectorCollection.open(path) as coll:
            oracle.records = {r.item_id: r for r in coll.records()}
            for space in coll.spaces:
                for records, vectors in coll.stored_vectors(space):
                    for record, vector in zip(records, vectors):
                        oracle.vectors.setdefault(record.item_id, {})[space] = np.array(vector)
        return oracle

    def add(self, other: Oracle) -> Oracle:
        return Oracle({**self.records, **other.records}, {**self.vectors, **other.vectors})


def check(path: Path, oracle: Oracle, must_have: set[str], exactly: set[str] | None = None) -> str | None:
    """None if the collection is sound, else what is wrong."""
    from mmret.index.collection import VectorCollection

    try:
        coll = VectorCollection.open(path)
    except Exception as error:  # noqa: BLE001 -- any failure to open is the finding
        return f"does not open: {type(error).__name__}: {error}"
    with coll:
        leftovers = [f.name for f in path.iterdir() if f.name.endswith(".tmp")]
        if problem := keyword_problem(path):
            return problem
        records = {r.item_id: r for r in coll.records()}
        seen: dict[str, dict] = {item: {} for item in records}
        for space in coll.spaces:
            for batch, vectors in coll.stored_vectors(space):
                for record, vector in zip(batch, vectors):
                    if space in seen[record.item_id]:
                        return f"{record.item_id}: two vectors in space {space}"
                    seen[record.item_id][space] = vector
            if coll.vector_count(space) != sum(space in s for s in seen.values()):
                return f"space {space}: {coll.vector_count(space)} vectors for its rows"
        count = len(coll)
    if leftovers:
        return f"temp files left after opening: {leftovers}"
    if count != len(records):
        return f"{count} rows counted, {len(records)} listed"
    if missing := must_have - set(records):
        return f"{len(missing)} committed items lost, e.g. {min(missing)}"
    if exactly is not None and set(records) != exactly:
        return f"{len(set(records) ^ exactly)} items differ from the expected set"
    for item, record in records.items():
        if item not in oracle.records:
            return f"{item}: an item the writer never made"
        expected = oracle.records[item]
        if (record.path, record.text, record.metadata, record.modality) != (
                expected.path, expected.text, expected.metadata, expected.modality):
            return f"{item}: record differs from the oracle's"
        if set(seen[item]) != set(oracle.vectors[item]):
            return f"{item}: vectors in spaces {sorted(seen[item])}, expected {sorted(oracle.vectors[item])}"
        for space, vector in seen[item].items():
            if not np.allclose(vector, oracle.vectors[item][space], atol=1e-5):
                return f"{item}: vector in {space} differs from the oracle's"
    return None


def keyword_problem(path: Path, sample: int = 20) -> str | None:
    """None if the keyword index holds a row for exactly the stored items and a sample of terms taken from the
    items table's text and file names (tokenised here, not by mmret) finds their items through it."""
    import sqlite3

    from mmret.index.checks import DB_FILE

    with sqlite3.connect(f"file:{path / DB_FILE}?mode=ro", uri=True) as db:
        items = db.execute("SELECT id, path, text FROM items ORDER BY id").fetchall()
        rows = {row_id for row_id, in db.execute("SELECT rowid FROM words")}
        if differ := rows ^ {row_id for row_id, _, _ in items}:
            return f"keyword index: {len(rows)} rows for {len(items)} items ({len(differ)} differ)"
        worded = [(row_id, term) for row_id, file, text in items if (term := _longest_word(file, text))]
        for row_id, term in random.Random(len(items)).sample(worded, min(sample, len(worded))):
            found = {i for i, in db.execute("SELECT rowid FROM words WHERE words MATCH ?", (f'"{term}"',))}
            if row_id not in found:
                return f"keyword index: item {row_id}'s word {term!r} does not find it"
    return None


def _longest_word(file: str | None, text: str | None) -> str | None:
    words = re.findall("[a-z]{3,}", f"{Path(file).stem if file else ''} {text or ''}".lower())
    return max(words, key=len, default=None)


def ids_of(path: Path) -> set[str]:
    from mmret.index.collection import VectorCollection

    with VectorCollection.open(path) as coll:
        return {r.item_id for r in coll.records()}


# -- the writers ----------------------------------------------------------------------------------------------

@dataclass
class Setup:
    work: Path
    images: Path
    full: Path  # every image indexed: the oracle
    part: Path  # a quarter of them (the rest removed)
    vectors: Path  # extra vectors to import, named "0", "1", ... (an .npy's rows are named by number)
    imported: int
    oracle: Oracle
    hidden: list[Path]  # files the sync trials take away


def prepare(work: Path, count: int, imported: int) -> Setup:
    from mmret.index.collection import VectorCollection

    images = work / "images"
    images.mkdir(parents=True)
    everything = sorted((DATA / "caltech101" / "images").glob("*/*.jpg"))
    for source in everything[:: max(1, len(everything) // count)][:count]:
        shutil.copy(source, images / f"{source.parent.name}_{source.name}")
    full, part = work / "full", work / "part"
    finished("index", images, "--collection", full, "--commit-every", 16, "--batch-size", 16)
    shutil.copytree(full, part)
    with VectorCollection.open(part) as coll:
        ids = sorted(r.item_id for r in coll.records())
        coll.remove(ids[len(ids) // 4:])
        dim = coll.spaces["shared"]  # the default model's width
    rng = np.random.default_rng(0)
    extra = rng.standard_normal((imported, dim)).astype(np.float32)
    np.save(work / "extra.npy", extra / np.linalg.norm(extra, axis=1, keepdims=True))
    from mmret.index.collection import Record

    extras = Oracle({str(i): Record(str(i), "vector") for i in range(imported)},
                    {str(i): {"shared": v} for i, v in enumerate(np.load(work / "extra.npy"))})
    return Setup(work, images, full, part, work / "extra.npy", imported, Oracle.of(full).add(extras),
                 sorted(images.iterdir())[::4])


@dataclass
class Writer:
    """One kind of writer: the state it starts from, how to start it, what must survive and what a full run gives."""
    name: str
    start_from: str  # "full" or "part"
    costly: bool  # re-run to completion after every 4th trial and the last only (it loads the model)

    def command(self, setup: Setup, target: Path) -> list:
        ids = sorted(setup.oracle.records)
        return {
            "index": ["index", setup.images, "--collection", target, "--commit-every", 16, "--batch-size", 16],
            "remove": ["remove", *[i for i in ids if i.startswith("/")][::2], "--collection", target],
            "sync": ["index", setup.images, "--collection", target, "--sync"],
            "optimize": ["optimize", "--collection", target, "--index", "HNSW16"],
            "import": ["import", setup.vectors, "--collection", target],
        }[self.name]

    def expected(self, setup: Setup, before: set[str]) -> set[str]:
        """The items once a run completes."""
        files = {i for i in setup.oracle.records if i.startswith("/")}
        if self.name == "index" or self.name == "serve":
            return before | files
        if self.name == "remove":
            return before - set(sorted(files)[::2])
        if self.name == "sync":
            return before - {str(p) for p in setup.hidden}
        if self.name == "import":
            return before | {str(i) for i in range(setup.imported)}
        return before

    def may_drop(self, setup: Setup) -> set[str]:
        """The items a run of this writer removes: all of them or none must be gone after a kill (one commit)."""
        files = {i for i in setup.oracle.records if i.startswith("/")}
        return {"remove": set(sorted(files)[::2]), "sync": {str(p) for p in setup.hidden}}.get(self.name, set())


WRITERS = [Writer("index", "part", True), Writer("remove", "full", False), Writer("sync", "full", True),
           Writer("optimize", "full", False), Writer("import", "full", False), Writer("serve", "part", True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(setup: Setup, target: Path) -> subprocess.Popen:
    """`mmret serve` on the collection, then a request adding every image; returns once the request is sent."""
    port = free_port()
    key_file = setup.work / "keys"
    key_file.write_text(KEY + "\n")
    server = mmret("serve", "--collection", target, "--port", port, "--root", setup.images,
                   "--api-key-file", key_file)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mmret serve did not start: {server.stderr.read()[-500:]}") from None
            time.sleep(0.2)
    body = json.dumps({"paths": [str(setup.images)]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/items/paths", body, method="POST",
                                     headers={"Content-Type": "application/json", "X-API-Key": KEY})
    server.sender = threading.Thread(target=_send, args=(request,), daemon=True)
    server.sender.start()
    return server


def _send(request: urllib.request.Request) -> None:
    try:
        urllib.request.urlopen(request, timeout=600).read()
    except OSError:
        pass  # the server was killed mid-request


def run_writer(writer: Writer, setup: Setup, target: Path) -> subprocess.Popen:
    if writer.name == "serve":
        return start_serve(setup, target)
    return mmret(*writer.command(setup, target))


def run_to_end(writer: Writer, setup: Setup, target: Path) -> float:
    started = time.monotonic()
    process = run_writer(writer, setup, target)
    if writer.name == "serve":
        process.sender.join(timeout=600)
        kill_group(process)
    else:
        _, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise RuntimeError(f"{writer.name} failed: {err.strip()[-500:]}")
    return time.monotonic() - started


def trials(writer: Writer, setup: Setup, count: int, rng: random.Random) -> dict:
    source = setup.full if writer.start_from == "full" else setup.part
    if writer.name == "sync":
        for path in setup.hidden:
            path.rename(setup.work / path.name)
    try:
        calibration = setup.work / f"calibrate-{writer.name}"
        shutil.copytree(source, calibration)
        before = ids_of(source)
        duration = run_to_end(writer, setup, calibration)
        problem = check(calibration, setup.oracle, set(), writer.expected(setup, before))
        if problem:
            raise RuntimeError(f"{writer.name}: an uninterrupted run is wrong: {problem}")
        survived, reruns, failures = 0, 0, []
        for trial in range(count):
            target = setup.work / f"{writer.name}-{trial}"
            shutil.copytree(source, target)
            process = run_writer(writer, setup, target)
            time.sleep(rng.uniform(0, duration))
            kill_group(process)
            dropped = writer.may_drop(setup)
            problem = check(target, setup.oracle, before - dropped)
            if problem is None and 0 < len(dropped & ids_of(target)) < len(dropped):
                problem = f"{len(dropped - ids_of(target))} of the {len(dropped)} removed items gone: half a commit"
            if problem is None and (not writer.costly or trial % 4 == 3 or trial == count - 1):
                reruns += 1
                if writer.name != "remove" or dropped & ids_of(target):  # else done: remove refuses ids it lacks
                    run_to_end(writer, setup, target)
                problem = check(target, setup.oracle, before - dropped, writer.expected(setup, before))
                problem = problem and f"after the re-run: {problem}"
            if problem:
                failures.append(f"trial {trial}: {problem}")
            else:
                survived += 1
            shutil.rmtree(target)
        return {"writer": writer.name, "trials": count, "survived": survived, "reruns_checked": reruns,
                "run_seconds": round(duration, 2), "failures": failures}
    finally:
        if writer.name == "sync":
            for path in setup.hidden:
                (setup.work / path.name).rename(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-trials", type=int, default=50, help="trials of mmret index (default: 50)")
    parser.add_argument("--trials", type=int, default=20, help="trials of each other writer (default: 20)")
    parser.add_argument("--images", type=int, default=128, help="caltech101 images indexed (default: 128)")
    parser.add_argument("--import-vectors", type=int, default=20_000,
                        help="vectors the import trials store (default: 20000)")
    parser.add_argument("--writers", default=",".join([*(w.name for w in WRITERS), "watch"]),
                        help="comma-separated writers to try (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the kill moments (default: 0)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "crash_trials.json",
                        help="JSON results (default: benchmarks/out/crash_trials.json)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="mmret-crash-") as work:
        started = time.monotonic()
        setup = prepare(Path(work), args.images, args.import_vectors)
        results = []
        for writer in WRITERS:
            if writer.name in args.writers.split(","):
                results.append(trials(writer, setup, args.index_trials if writer.name == "index" else args.trials,
                                      rng))
                print(f"{writer.name}: {results[-1]['survived']}/{results[-1]['trials']}", file=sys.stderr)
        if "watch" in args.writers.split(","):
            import crash_watch

            results.append(crash_watch.trials(setup, args.trials, rng))
    print(f"\n{'writer':<10}{'trials':>8}{'survived':>10}{'re-runs checked':>17}{'run s':>8}")
    for r in results:
        print(f"{r['writer']:<10}{r['trials']:>8}{r['survived']:>10}{r['reruns_checked']:>17}{r['run_seconds']:>8}")
        for failure in r["failures"]:
            print(f"   {failure}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"images": args.images, "seed": args.seed, "results": results,
                                    "seconds": round(time.monotonic() - started, 1)}, indent=2))
    sys.exit(1 if any(r["failures"] for r in results) else 0)


if __name__ == "__main__":
    main()
