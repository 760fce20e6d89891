"""Startup time of the `mmret` command: this tree against an earlier commit, side by side in one run, and this
tree with the offline pack's English bridge exported to ONNX (`mmret export-model offline-bridge --format onnx`).

Each command runs in a fresh process, as a user types it; the columns alternate run by run so that load from
other processes on a shared machine hits them alike. Reported: the median wall time of `--repeats` runs of
  - import:        python -c "import mmret.cli"
  - argument error: mmret search -k 0 ...   (fails before any model loads)
  - info:          mmret info --collection C
  - text search:   mmret search --text "a strawberry" --collection C -k 1   (import + model load + query)
  - image search:  mmret search --image IMG --collection C -k 1
on a collection of the 12 caltech101 strawberry photos indexed by the default model plus `--items` random unit
vectors (default 100000) stored with `mmret import` (for the ONNX column, the exported folder's collection).
Then the imports of one ONNX text search, by cumulative time (`python -X importtime`).

Usage: python benchmarks/startup.py [--before REV] [--repeats R] [--items N]   (data: $MMR_DATA_DIR)
Prints the tables and writes benchmarks/out/startup.json.
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="af04d00", help="the commit to compare with (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per command and tree (default: %(default)s)")
    parser.add_argument("--items", type=int, default=100_000, help="random vectors in the collection")
    args = parser.parse_args()
    photos = DATA / "caltech101" / "images" / "strawberry"
    if not photos.is_dir():
        sys.exit(f"{photos} not found (set MMR_DATA_DIR)")
    this = REPO / "src"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        onnx_model = tmp / "offline-onnx"
        _run(this, ["export-model", "offline-bridge", "--format", "onnx", "--out", str(onnx_model)], check=True)
        collections = {model: _collection(this, tmp / f"c-{i}", model, photos, args.items)
                       for i, model in enumerate(("offline", str(onnx_model)))}
        columns = {args.before: (_export(args.before, tmp / "before"), collections["offline"]),
                   "this tree": (this, collections["offline"]), "this tree, ONNX": (this, collections[str(onnx_model)])}
        photo = next(iter(sorted(photos.iterdir())))
        times = {column: {name: [] for name in _commands(tmp, photo)} for column in columns}
        for _ in range(args.repeats):
            for name in _commands(tmp, photo):
                for column, (src, collection) in columns.items():
                    times[column][name].append(_timed(src, _commands(collection, photo)[name],
                                                      expected=2 if name == "argument error" else 0))
        imports = _import_breakdown(this, _commands(collections[str(onnx_model)], photo)["text search"])
    medians = {column: {name: statistics.median(runs) for name, runs in by_name.items()}
               for column, by_name in times.items()}
    print(_table(medians, args.repeats, args.items))
    print("\nimports of one ONNX text search, by cumulative time (top level of python -X importtime)")
    print("\n".join(f"{name:<40}{ms:>8.0f} ms" for name, ms in imports))
    out = REPO / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / "startup.json").write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "cpus": os.cpu_count(), "load": os.getloadavg(), "repeats": args.repeats, "items": args.items,
        "seconds": times, "medians": medians, "onnx_text_search_imports_ms": imports}, indent=2) + "\n")


def _collection(src: Path, path: Path, model: str, photos: Path, items: int) -> Path:
    """The photos indexed by `model`, then `items` random unit vectors of its width imported beside them."""
    from mmret.index.backend import open_collection

    _run(src, ["index", str(photos), "--collection", str(path), "--model", model], check=True)
    store = open_collection(path)
    width = store.spaces["shared"]
    store.close()
    vectors = np.random.default_rng(0).standard_normal((items, width)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(path.with_suffix(".npy"), vectors)
    _run(src, ["import", str(path.with_suffix(".npy")), "--collection", str(path)], check=True)
    return path


def _import_breakdown(src: Path, argv: list[str]) -> list[tuple[str, float]]:
    """The top-level modules one command imports, with their cumulative import time, slowest first."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mmret.cli", *argv], env=env,
                          capture_output=True, text=True, check=True)
    top = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            if not name.startswith("  "):  # nested imports are indented
                top.append((name.strip(), int(cumulative) / 1000))
    return sorted(top, key=lambda row: -row[1])[:12]


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


def _timed(src: Path, argv: list[str], expected: int) -> float:
    """Seconds of one run, which must end with the `expected` exit status (an older tree that cannot load the
    collection's model would otherwise time its error)."""
    started = time.perf_counter()
    done = _run(src, argv)
    seconds = time.perf_counter() - started
    if done.returncode != expected:
        raise RuntimeError(f"mmret {' '.join(argv)} ({src}) exited {done.returncode}: {done.stderr[-1000:]}")
    return seconds


def _table(medians: dict, repeats: int, items: int) -> str:
    names = list(next(iter(medians.values())))
    header = f"{'command':<16}" + "".join(f"{column:>18}" for column in medians)
    lines = [f"median wall seconds of {repeats} runs, fresh process each; collection of {items} + 12 items", header]
    lines += [f"{name:<16}" + "".join(f"{by_name[name]:>18.2f}" for by_name in medians.values()) for name in names]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
