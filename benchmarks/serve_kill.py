"""kill -9 of `mmret serve` during uploads and deletes, over loopback: what the server acknowledged must survive.

Each trial starts a real `mmret serve` (write key, the default offline model) on the same collection, lets
--clients writers upload Flickr8k-500 photos through `POST /api/items` and delete some of the items they were
acknowledged (`DELETE /api/items`), and SIGKILLs the server's process group at a random moment. Then it opens the
collection: every add the server answered 200 for (and no client deleted after) must be there, and no item whose
delete was answered 200 may be back. Requests in flight at the kill may land either way. Bounded by --trials and
--seconds; prints a table and writes benchmarks/out/serve_kill.json.

    python benchmarks/serve_kill.py --trials 10
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from served import start_serve

OUT = Path(__file__).parent / "out"
KEY = "kill-benchmark-key-0123456789"
PHOTOS = 40  # uploaded in turn, each under a new name
DELETE_EVERY = 3  # a writer deletes one of its acknowledged items after every third acknowledged add


@dataclass
class Acknowledged:
    """What the server answered 200 for, across all trials (an item is in at most one set)."""
    added: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)  # a delete was in flight at the kill: either way is right
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ever_added(self) -> int:
        return len(self.added) + len(self.deleted) + len(self.uncertain)


def data_dir() -> Path:
    return Path(os.environ.get("MMR_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def writer(url: str, photos: list[Path], tag: str, acked: Acknowledged, stop: threading.Event, counts: dict) -> None:
    """Uploads photos one by one under new names; after every DELETE_EVERY-th acknowledged add, deletes the oldest
    item it added. Stops at the first transport error (the server is gone)."""
    mine: list[str] = []
    turn = 0
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:
        while not stop.is_set():
            photo = photos[turn % len(photos)]
            try:
                answer = http.post("/api/items", files={"files": (f"{tag}-{turn}-{photo.name}", photo.read_bytes(),
                                                                  "image/jpeg")})
                counts["requests"] += 1
                if answer.status_code != 200:
                    counts["errors"] += 1
                    continue
                with acked.lock:
                    acked.added.update(answer.json()["ids"])
                mine += answer.json()["ids"]
                turn += 1
                if turn % DELETE_EVERY == 0 and mine:
                    gone = mine.pop(0)
                    with acked.lock:
                        acked.added.discard(gone)
                        acked.uncertain.add(gone)
                    answer = http.delete("/api/items", params={"id": gone})
                    counts["requests"] += 1
                    with acked.lock:
                        acked.uncertain.discard(gone)
                        (acked.deleted if answer.status_code == 200 else acked.added).add(gone)
                    counts["errors"] += answer.status_code != 200
            except httpx.TransportError:
                return


def stored_ids(collection: Path) -> set[str]:
    from mmret.index.collection import VectorCollection

    with VectorCollection.open(collection) as store:
        return {r.item_id for r in store.records()}


def trial(number: int, collection: Path, keys: Path, photos: list[Path], acked: Acknowledged, clients: int,
          seconds: float, rng: random.Random, log: Path) -> dict:
    server, url = start_serve(["--collection", str(collection), "--api-key-file", str(keys)], log,
                              start_new_session=True)
    stop, counts = threading.Event(), {"requests": 0, "errors": 0}
    before = (acked.ever_added(), len(acked.deleted))
    threads = [threading.Thread(target=writer, args=(url, photos, f"t{number}c{c}", acked, stop, counts), daemon=True)
               for c in range(clients)]
    for thread in threads:
        thread.start()
    kill_at = rng.uniform(seconds / 4, seconds)
    time.sleep(kill_at)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(30)
    stop.set()
    for thread in threads:
        thread.join(60)
    stored = stored_ids(collection)
    with acked.lock:
        missing, back = acked.added - stored, acked.deleted & stored
        return {"trial": number, "kill_at_s": round(kill_at, 2), "requests": counts["requests"],
                "non_200": counts["errors"], "adds_acked": acked.ever_added() - before[0],
                "deletes_acked": len(acked.deleted) - before[1], "stored": len(stored),
                "acked_adds_missing": sorted(missing), "acked_deletes_back": sorted(back)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8, help="the kill falls in [seconds/4, seconds] after ready")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmret.api import Collection

    photos = sorted((data_dir() / "flickr8k-500" / "images").glob("*.jpg"))[:PHOTOS]
    rng, acked, rows = random.Random(args.seed), Acknowledged(), []
    work = Path(tempfile.mkdtemp(prefix="mmret-kill-"))
    try:
        collection, keys, log = work / "c", work / "keys", work / "server.log"
        keys.write_text(KEY + "\n")
        Collection.open(collection).add(photos[:4], workers=0)
        print(f"{'trial':>5}{'kill s':>8}{'requests':>9}{'non-200':>8}{'adds ok':>8}{'dels ok':>8}{'stored':>7}"
              f"{'adds missing':>13}{'dels back':>10}")
        for number in range(args.trials):
            row = trial(number, collection, keys, photos, acked, args.clients, args.seconds, rng, log)
            rows.append(row)
            print(f"{number:>5}{row['kill_at_s']:>8}{row['requests']:>9}{row['non_200']:>8}{row['adds_acked']:>8}"
                  f"{row['deletes_acked']:>8}{row['stored']:>7}{len(row['acked_adds_missing']):>13}"
                  f"{len(row['acked_deletes_back']):>10}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    held = all(not r["acked_adds_missing"] and not r["acked_deletes_back"] for r in rows)
    print(f"\n{len(rows)} kills; acknowledged adds {acked.ever_added()}, acknowledged deletes "
          f"{len(acked.deleted)}, deletes in flight at a kill {len(acked.uncertain)}; "
          + ("held: every acknowledged add present, no acknowledged delete back" if held else "BROKEN: see the rows"))
    OUT.mkdir(exist_ok=True)
    (OUT / "serve_kill.json").write_text(json.dumps(
        {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(),
         "cpus": os.cpu_count(), "load_average": os.getloadavg(), "args": vars(args), "rows": rows,
         "held": held}, indent=1))
    print(f"wrote {OUT / 'serve_kill.json'}")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
