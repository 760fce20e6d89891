"""The cost of going distributed (issue 15): `mmret index PHOTOS --collection C` on real photos through the local
pipeline (its default decoding processes beside the model, and `--workers 1`, one) against the same command with `--ray ADDRESS` on a Ray cluster with 1 and 2 embedding actors (worker
processes, one CPU each), side by side in one run; and the import of Parquet shards of 1M x 384 vectors against the
peer bulk import of the same vectors from .npy (`Collection.add_vectors`, what `mmret import vectors.npy` runs).

Each indexing run is the whole command, into a new collection: for Ray, connecting, shipping mmret to the
workers, starting the actors (each loads the model), embedding, writing the shards and importing them. The
cluster (`ray start --head --num-cpus 2` on this machine) is started once, before the runs, as a user's cluster
would be running; its start-up is reported apart. The paths run in rotating order, `--repeats` times; the table shows medians, and each Ray path's ratio to the local one is the
median of the ratios within a round (the same load from other processes). Every run's collection is checked to
hold every photo.

Usage: python benchmarks/distributed.py [--images N] [--repeats R] [--import-rows N]
   (data: $MMR_DATA_DIR, default ../shared/data). Prints tables and writes benchmarks/out/distributed.json.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mmret import Collection
from mmret.data.items import Item
from mmret.distributed.ray_pipeline import import_shards
from mmret.distributed.shards import shard_path, shard_table, write_shard
from mmret.index.collection import VectorCollection
from mmret.media.batches import EmbeddedBatch
from mmret.pipeline import IndexReport
from mmret.pipeline.writer import CollectionWriter

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
PHOTOS = DATA / "flickr8k-500" / "images"
OUT = ROOT / "benchmarks" / "out" / "distributed.json"
DIM = 384
SHARD_ROWS = 10_000


def photo_folder(count: int, into: Path) -> Path:
    folder = into / "photos"
    folder.mkdir()
    for source in sorted(PHOTOS.glob("*.jpg"))[:count]:
        shutil.copy(source, folder / source.name)
    return folder


@contextlib.contextmanager
def ray_head(cpus: int):
    """A one-node Ray cluster (`ray start --head --block`); stopped after with every process descending from it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp_dir = tempfile.mkdtemp(prefix="mmr-ray-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"RAY_AUTH_MODE": "disabled"}
    ray = Path(sys.executable).with_name("ray")
    start = time.perf_counter()
    head = subprocess.Popen([str(ray), "start", "--head", "--block", "--port", str(port), "--num-cpus", str(cpus),
                             "--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir, "--include-dashboard=false",
                             "--disable-usage-stats"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the loopback cluster has no token
    try:
        while subprocess.run([sys.executable, "-c", f"import ray; ray.init(address='127.0.0.1:{port}')"],
                             capture_output=True, env=os.environ | {"RAY_AUTH_MODE": "disabled"},
                             check=False).returncode:
            time.sleep(0.5)
        yield f"127.0.0.1:{port}", time.perf_counter() - start
    finally:
        _stop_descendants(head.pid)
        head.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_descendants(root: int) -> None:
    parents = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])

    def ours(pid: int) -> bool:
        while pid > 1 and pid != root:
            pid = parents.get(pid, 0)
        return pid == root

    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        for pid in [pid for pid in parents if ours(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal_number)
        time.sleep(5)


def index_run(photos: Path, collection: Path, ray: list[str]) -> float:
    """Seconds of one `mmret index` command into a new collection, checked to hold every photo."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mmret.cli", "index", str(photos), "--collection", str(collection),
                    "--model", "offline", *ray], check=True, capture_output=True)
    seconds = time.perf_counter() - start
    with VectorCollection.open(collection) as stored:
        if len(stored) != len(list(photos.iterdir())):
            raise RuntimeError(f"{collection}: {len(stored)} items stored")
    shutil.rmtree(collection)
    return seconds


def indexing(photos: Path, work: Path, address: str, repeats: int) -> dict[str, list[float]]:
    paths = {"local pipeline": [], "local, --workers 1": ["--workers", "1"],
             "Ray, 1 actor": ["--ray", address, "--ray-actors", "1"],
             "Ray, 2 actors": ["--ray", address, "--ray-actors", "2"]}
    index_run(photos, work / "warm-up", [])  # the bf16 probe's cache, the page cache
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            seconds[name].append(index_run(photos, work / "collection", paths[name]))
            print(f"  round {repeat + 1}/{repeats} {name}: {seconds[name][-1]:.1f} s", flush=True)
    return seconds


def shard_import(rows: int, work: Path) -> dict[str, float]:
    """Seconds to import `rows` synthetic unit vectors from Parquet shards (the Ray run's last step) and, the peer,
    from one .npy through add_vectors; both into new collections, checked to hold every row."""
    rng = np.random.default_rng(0)
    vectors = np.lib.format.open_memmap(work / "vectors.npy", "w+", np.float32, (rows, DIM))
    shards = work / "shards"
    shards.mkdir()
    paths = []
    for start in range(0, rows, SHARD_ROWS):
        block = rng.standard_normal((min(SHARD_ROWS, rows - start), DIM), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        vectors[start:start + len(block)] = block
        items = [Item(f"v{i}", "text", text=f"row {i}") for i in range(start, start + len(block))]
        paths.append(shard_path(shards, f"{start:09d}"))
        write_shard(paths[-1], shard_table(paths[-1].stem, [EmbeddedBatch("text", items, ["-"] * len(items),
                                                                           {"shared": block})], {}, {"shared": DIM}))
    vectors.flush()
    seconds = {}
    start = time.perf_counter()
    with VectorCollection.create(work / "from-shards", "synthetic", {"shared": DIM}) as collection:
        import_shards(CollectionWriter(collection, IndexReport(), print), paths, set())
        seconds["Parquet shards -> writer stage"] = time.perf_counter() - start
        assert len(collection) == rows
    start = time.perf_counter()
    peer = Collection.create_for_vectors(work / "from-npy", "synthetic", {"shared": DIM})
    peer.add_vectors(np.load(work / "vectors.npy", mmap_mode="r"), ids=[f"v{i}" for i in range(rows)])
    seconds[".npy -> add_vectors (mmret import)"] = time.perf_counter() - start
    assert len(peer) == rows
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--import-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="mmr-bench-") as work:
        work = Path(work)
        photos = photo_folder(args.images, work)
        load_before = [round(x, 2) for x in os.getloadavg()]
        with ray_head(cpus=2) as (address, startup):
            seconds = indexing(photos, work, address, args.repeats)
        load_after = [round(x, 2) for x in os.getloadavg()]
        imports = shard_import(args.import_rows, work)
    local = seconds["local pipeline"]
    rows = [{"path": name, "images_per_s": args.images / statistics.median(runs), "seconds": runs,
             "ratio_vs_local": statistics.median(l / r for l, r in zip(local, runs))}  # >1: faster than local
            for name, runs in seconds.items()]
    print(f"\n{args.images} photos (flickr8k-500), end to end; Ray cluster start-up {startup:.1f} s (not counted)")
    print(f"load average before / after the runs: {load_before} / {load_after}")
    print(f"{'path':<18} {'images/s':>8} {'runs (s)':<20} {'speed vs local':>14}")
    for r in rows:
        print(f"{r['path']:<18} {r['images_per_s']:>8.1f} {' '.join(f'{s:.1f}' for s in r['seconds']):<20} "
              f"{r['ratio_vs_local']:>13.2f}x")
    print(f"\nimport of {args.import_rows:,} x {DIM} vectors into a new collection")
    for name, value in imports.items():
        print(f"{name:<34} {value:>7.1f} s {args.import_rows / value:>10,.0f} vectors/s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor(),
        "cpus": os.cpu_count(), "images": args.images, "repeats": args.repeats, "ray_startup_s": startup,
        "load_average_before_after": [load_before, load_after],
        "indexing": rows, "import_rows": args.import_rows, "import_dim": DIM, "import_seconds": imports}, indent=2))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
