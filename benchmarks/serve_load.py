"""Load on `mmret serve` over loopback: 32 concurrent clients doing text search for --seconds on a collection of
>= 100k items while one more client keeps adding uploaded photos; beside it, the same searches one at a time over
HTTP and through the Python API in-process (the HTTP overhead as a ratio). Bounded in time and count; prints a
table and writes JSON to benchmarks/out/serve_load.json.

The collection: real offline-pack embeddings of the Flickr8k-500 photos and captions, replicated with small
noise (shared space only: text search is what is measured), written through the VectorCollection API.

    python benchmarks/serve_load.py --seconds 60
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mmret.api import Collection
from mmret.data.decode import open_image, read_bytes
from mmret.encoders.base import SHARED
from mmret.index.collection import Record, VectorCollection
from mmret.models import DEFAULT_MODEL, load_encoder

OUT = Path(__file__).parent / "out"
KEY = "load-benchmark-key"
NOISE = 0.02  # per-coordinate noise of a replica, before re-normalising
BATCH = 20_000  # records per commit while building
MAX_REQUESTS = 1_000_000  # per phase, whatever --seconds says


def data_dir() -> Path:
    return Path(os.environ.get("MMR_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def base_embeddings(encoder, flickr: Path) -> tuple[list[dict], np.ndarray]:
    """The photos then the captions, each with its shared-space vector; cached in benchmarks/out."""
    records = json.loads((flickr / "captions.json").read_text())
    photos = [str(flickr / r["image"]) for r in records]
    captions = [c for r in records for c in r["captions"]]
    items = [{"modality": "image", "path": p} for p in photos] + [{"modality": "text", "text": c} for c in captions]
    cache = OUT / "serve_load_base.npy"
    if not cache.is_file():
        vectors = [encoder.encode("image", [open_image(read_bytes(p), p) for p in photos[i:i + 32]])
                   for i in range(0, len(photos), 32)]
        vectors += [encoder.encode("text", captions[i:i + 256]) for i in range(0, len(captions), 256)]
        OUT.mkdir(exist_ok=True)
        np.save(cache, np.concatenate(vectors).astype(np.float32))
    return items, np.load(cache)


def build(folder: Path, encoder, items: list[dict], base: np.ndarray, size: int) -> None:
    """`size` records: the base items replicated with noise, committed in batches."""
    rng = np.random.default_rng(0)
    store = VectorCollection.create(folder, encoder.model_id, dict(encoder.spaces))
    with store:
        for start in range(0, size, BATCH):
            rows = np.arange(start, min(size, start + BATCH))
            source = rows % len(items)
            vectors = base[source] + rng.normal(0, NOISE, (len(rows), base.shape[1])).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            records = [Record(f"replica/{row}", items[s]["modality"], items[s].get("path"), items[s].get("text"),
                              {"replica": int(row // len(items))}) for row, s in zip(rows.tolist(), source.tolist())]
            store.upsert(records, {SHARED: vectors})
            print(f"  built {rows[-1] + 1} / {size}", flush=True)


def start_server(folder: Path, roots: list[Path]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMRET_API_KEYS": KEY, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "mmret.cli", "serve", "--collection", str(folder), "--port", str(port)]
    for root in roots:
        command += ["--root", str(root)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"mmret serve exited: {server.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("mmret serve was not ready within 300 s")


async def http_phase(url: str, queries: list[str], clients: int, seconds: float, photos: list[Path] | None):
    """`clients` concurrent searchers (and, with `photos`, one adder) for `seconds`; per-request latencies."""
    import httpx

    latencies, errors, added = [], [], 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients + 1, max_keepalive_connections=clients + 1)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        async def searcher(number: int) -> None:
            turn = number
            while time.monotonic() < deadline and len(latencies) + len(errors) < MAX_REQUESTS:
                started = time.perf_counter()
                try:
                    response = await http.get("/api/search", params={"q": queries[turn % len(queries)], "k": 10})
                    if response.status_code != 200 or not response.json()["results"]:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    else:
                        latencies.append(time.perf_counter() - started)
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                turn += clients

        async def adder() -> None:
            nonlocal added
            turn = 0
            while time.monotonic() < deadline:
                photo = photos[turn % len(photos)]
                files = {"files": (photo.name, photo.read_bytes(), "image/jpeg")}
                response = await http.post("/api/items", files=files, headers={"X-API-Key": KEY})
                if response.status_code == 200 and response.json()["added"] == 1:
                    added += 1
                else:
                    errors.append(f"add {response.status_code}: {response.text[:200]}")
                turn += 1

        started = time.monotonic()
        await asyncio.gather(*(searcher(n) for n in range(clients)), *([adder()] if photos else []))
        elapsed = time.monotonic() - started
    return summary(latencies, errors, elapsed) | {"clients": clients, "items_added": added}


def paired_phase(url: str, folder: Path, queries: list[str], seconds: float) -> list[dict]:
    """The same searches one at a time, in turn over HTTP, through the Python API on this process's main thread,
    and through the API on a worker thread (where the server runs its requests), so all three see the same load
    from the rest of the machine."""
    import httpx

    collection = Collection.open(folder, create=False)
    collection.search(text=queries[0], k=10)  # load the model before timing
    worker = ThreadPoolExecutor(1)
    # SQLite handles stay on the thread that opened them: the worker opens its own, sharing the model
    on_worker = worker.submit(lambda: Collection(VectorCollection.open(folder), collection.encoder)).result()
    timings: list[list[float]] = [[], [], []]
    errors, turn = [], 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=120) as http:
        def over_http(query: str) -> None:
            response = http.get("/api/search", params={"q": query, "k": 10})
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:200]}")

        def in_process(query: str) -> None:
            collection.search(text=query, k=10)

        def in_worker(query: str) -> None:
            worker.submit(on_worker.search, text=query, k=10).result()

        ways = [over_http, in_process, in_worker]
        while time.monotonic() < deadline and turn < MAX_REQUESTS:
            for way, spent in zip(ways, timings):
                begin = time.perf_counter()
                try:
                    way(queries[turn % len(queries)])
                    spent.append(time.perf_counter() - begin)
                except RuntimeError as error:
                    errors.append(str(error))
            turn += 1
    worker.shutdown()
    # each way's QPS is over its own busy time: they take turns, so wall time is shared
    return [summary(spent, errors if n == 0 else [], sum(spent)) | {"clients": 1, "items_added": 0}
            for n, spent in enumerate(timings)]


def summary(latencies: list[float], errors: list[str], elapsed: float) -> dict:
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    return {"requests": len(latencies), "errors": len(errors), "first_errors": errors[:5],
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "qps": round(len(latencies) / elapsed, 1), "seconds": round(elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the 32-client phase")
    parser.add_argument("--side-seconds", type=float, default=30,
                        help="length of the one-at-a-time phase (HTTP and in-process, alternating)")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--collection", type=Path, help="reuse (or build here) the collection; default: a temp dir")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    flickr, coco = data_dir() / "flickr8k-500", data_dir() / "coco-mini"
    encoder = load_encoder(DEFAULT_MODEL)
    folder = args.collection or Path(tempfile.mkdtemp(prefix="mmret-load-")) / "collection"
    if not VectorCollection.exists(folder):
        print(f"building {args.items} items in {folder}", flush=True)
        build(folder, encoder, *base_embeddings(encoder, flickr), args.items)
    queries = [c for r in json.loads((coco / "captions.json").read_text()) for c in r["captions"]]
    photos = sorted(coco.rglob("*.jpg"))[:50]
    with VectorCollection.open(folder) as store:
        size = len(store)
    server, url = start_server(folder, [])
    try:
        loaded = asyncio.run(http_phase(url, queries, args.clients, args.seconds, photos or None))
        single, in_process, in_worker = paired_phase(url, folder, queries, args.side_seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(size, loaded, single, in_process, in_worker, args)


def report(size: int, loaded: dict, single: dict, in_process: dict, in_worker: dict, args) -> None:
    rows = [("HTTP, 32 clients + 1 adder", loaded), ("HTTP, 1 client (paired)", single),
            ("Python API, main thread (paired)", in_process), ("Python API, worker thread (paired)", in_worker)]
    print(f"\n{size} items, text search k=10, loopback\n")
    print(f"{'phase':<36}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'QPS':>8}{'added':>7}")
    for name, row in rows:
        print(f"{name:<36}{row['requests']:>9}{row['errors']:>8}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['qps']:>8}"
              f"{row['items_added']:>7}")
    overhead = {"p50_http_over_api_worker_thread": round(single["p50_ms"] / in_worker["p50_ms"], 2),
                "p50_http_over_api_main_thread": round(single["p50_ms"] / in_process["p50_ms"], 2),
                "qps_http_32_clients_over_api_worker_thread": round(loaded["qps"] / in_worker["qps"], 2)}
    print(f"\nHTTP overhead (p50, one client / in-process on a worker thread): "
          f"{overhead['p50_http_over_api_worker_thread']}x; on the main thread: "
          f"{overhead['p50_http_over_api_main_thread']}x; 32 clients give "
          f"{overhead['qps_http_32_clients_over_api_worker_thread']}x the worker thread's QPS")
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor() or
              platform.machine(), "cpus": os.cpu_count(), "items": size, "args": {k: str(v) for k, v in vars(args).items()},
              "phases": dict(zip(("http_32_clients_with_adder", "http_1_client", "api_main_thread",
                                  "api_worker_thread"), (loaded, single, in_process, in_worker))),
              "overhead": overhead}
    OUT.mkdir(exist_ok=True)
    (OUT / "serve_load.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {OUT / 'serve_load.json'}")


if __name__ == "__main__":
    main()
