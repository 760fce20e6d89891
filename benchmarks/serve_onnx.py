"""Text-search latency of `mmret serve` over loopback: a collection of the default model (PyTorch towers) against
the same model exported to ONNX (`mmret export-model offline --format onnx`), side by side in one run.

Both collections hold the same `--items` vectors (the Flickr8k-500 photos' and captions' shared-space vectors,
replicated with small noise, as benchmarks/serve_load.py builds them), one under each model's id. Both servers run
at once; the phases alternate between them: 1 client, then `--clients` concurrent clients, `--seconds` each,
`--rounds` times, so that load from the rest of the machine hits both alike. Queries: the coco-mini captions, k=10.
Reported per server and phase: requests, errors, p50 and p99 latency over all rounds, QPS.

    python benchmarks/serve_onnx.py --seconds 20 --rounds 2
Prints a table and writes benchmarks/out/serve_onnx.json.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from serve_load import OUT, base_embeddings, build, data_dir, start_server

from mmret.encoders.onnx_export import export_model
from mmret.models import DEFAULT_MODEL, load_encoder


async def latencies(url: str, queries: list[str], clients: int, seconds: float) -> tuple[list[float], int]:
    """Per-request seconds of `clients` concurrent searchers for `seconds`, and the count of failed requests."""
    import httpx

    spent, errors = [], 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        async def searcher(turn: int) -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await http.get("/api/search", params={"q": queries[turn % len(queries)], "k": 10})
                if response.status_code == 200 and response.json()["results"]:
                    spent.append(time.perf_counter() - started)
                else:
                    errors += 1
                turn += clients

        await asyncio.gather(*(searcher(n) for n in range(clients)))
    return spent, errors


def summary(spent: list[float], errors: int, seconds: float) -> dict:
    ms = np.asarray(spent or [np.nan]) * 1000
    return {"requests": len(spent), "errors": errors, "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "qps": round(len(spent) / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20, help="length of one phase on one server")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tmp = Path(tempfile.mkdtemp(prefix="mmret-serve-onnx-"))
    export_model(DEFAULT_MODEL, tmp / "offline-onnx")
    encoders = {"default (PyTorch)": load_encoder(DEFAULT_MODEL), "ONNX export": load_encoder(str(tmp / "offline-onnx"))}
    items, base = base_embeddings(encoders["ONNX export"], data_dir() / "flickr8k-500")
    folders = {}
    for number, (name, encoder) in enumerate(encoders.items()):
        folders[name] = tmp / f"collection-{number}"
        build(folders[name], encoder, items, base, args.items)
    queries = [c for r in json.loads((data_dir() / "coco-mini" / "captions.json").read_text()) for c in r["captions"]]
    servers = {name: start_server(folder, []) for name, folder in folders.items()}
    phases = {(name, clients): ([], 0) for name in servers for clients in (1, args.clients)}
    try:
        for name, (_, url) in servers.items():
            asyncio.run(latencies(url, queries, 1, 5))  # the model loads with the first search
        for _ in range(args.rounds):
            for clients in (1, args.clients):
                for name, (_, url) in servers.items():
                    spent, errors = asyncio.run(latencies(url, queries, clients, args.seconds))
                    phases[name, clients] = (phases[name, clients][0] + spent, phases[name, clients][1] + errors)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    rows = {f"{name}, {clients} client(s)": summary(spent, errors, args.seconds * args.rounds)
            for (name, clients), (spent, errors) in phases.items()}
    report(rows, args)


def report(rows: dict, args) -> None:
    print(f"\n{args.items} items, text search k=10 over HTTP (loopback), {args.rounds} rounds of {args.seconds} s "
          f"per phase; load average {os.getloadavg()[0]:.1f}\n")
    print(f"{'server, clients':<34}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'QPS':>8}")
    for name, row in rows.items():
        print(f"{name:<34}{row['requests']:>9}{row['errors']:>8}{row['p50_ms']:>9}{row['p99_ms']:>9}{row['qps']:>8}")
    OUT.mkdir(exist_ok=True)
    (OUT / "serve_onnx.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.machine(),
         "cpus": os.cpu_count(), "load": os.getloadavg(), "args": vars(args), "phases": rows}, indent=1) + "\n")
    print(f"wrote {OUT / 'serve_onnx.json'}")


if __name__ == "__main__":
    main()
