"""Attacks on a real `mmret serve` over loopback, replayed: each class of issue 27's probe, bounded in count and
time, with its outcome, the server's peak RSS and the disk its upload folder took. Prints a table and writes
benchmarks/out/serve_attack.json.

The server: the default (offline) model over a few Flickr8k-500 photos, with a write key, a root, a 16 MB upload
limit and the default 60 s request timeout. Stored XSS is replayed in headless Chromium (serve_attack_xss.py).

    python benchmarks/serve_attack.py
"""
from __future__ import annotations

import json
import os
import platform
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image
from serve_attack_xss import replay_stored_xss
from served import start_serve

OUT = Path(__file__).parent / "out"
KEY = "attack-harness-key-0123456789"
PHOTOS = 8
UPLOAD_MB = 16
RACE_REQUESTS = 600
GIANT = 7999  # a side of the worst-case PNG: under the 64-megapixel limit
ATTACKS: list = []


def attack(function):
    ATTACKS.append(function)
    return function


class Server:
    """`mmret serve` in a subprocess on a free loopback port, its RSS sampled every 50 ms."""

    def __init__(self, work: Path, root: Path):
        (work / "keys").write_text(KEY + "\n")
        self.uploads = work / "c" / "uploads"
        self.log = work / "server.log"
        self.log.write_text("")
        self.process, self.base = start_serve(
            ["--collection", str(work / "c"), "--root", str(root), "--api-key-file", str(work / "keys"),
             "--max-upload-mb", str(UPLOAD_MB)], self.log)
        self.peak_rss = 0
        self._sampling = threading.Thread(target=self._sample, daemon=True)
        self._sampling.start()

    def rss(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def reset_peak(self) -> None:
        self.peak_rss = self.rss()

    def _sample(self) -> None:
        while self.process.poll() is None:
            try:
                self.peak_rss = max(self.peak_rss, self.rss())
            except OSError:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def statuses(answers) -> dict:
    counted: dict = {}
    for status in answers:
        counted[status] = counted.get(status, 0) + 1
    return dict(sorted(counted.items(), key=str))


@attack
def auth(server: Server, root: Path) -> tuple[bool, str]:
    writes = [("POST", "/api/items/paths", {"json": {"paths": ["."]}}), ("DELETE", "/api/items", {"params": {"id": "x"}}),
              ("PATCH", "/api/items/metadata", {"json": {"id": "x", "metadata": {}}}),
              ("POST", "/api/jobs/reindex", {"json": {}})]
    keys = [None, KEY + "x", KEY[:-1], KEY.upper(), ""]
    got = []
    with httpx.Client(base_url=server.base) as http:
        for method, url, body in writes:
            for key in keys:
                headers = {} if key is None else {"X-API-Key": key}
                got.append(http.request(method, url, headers=headers, **body).status_code)
    return all(s in (401, 403) for s in got), f"{len(got)} keyless or wrong-key writes: {statuses(got)}"


@attack
def traversal(server: Server, root: Path) -> tuple[bool, str]:
    names = ["../etc/passwd", "/etc/passwd", "photos/../../etc", "..%2f..%2fetc", "a\x00b", "~root", "~/.ssh",
             "./../" * 8 + "etc/passwd", "/proc/self/environ"]
    with httpx.Client(base_url=server.base, headers={"X-API-Key": KEY}) as http:
        got = [http.post("/api/items/paths", json={"paths": [name]}).status_code for name in names]
        media = [http.get("/api/media", params={"id": name}).status_code for name in names]
    return all(400 <= s < 500 for s in got + media), f"adds {statuses(got)}, media {statuses(media)}"


@attack
def symlink_race(server: Server, root: Path) -> tuple[bool, str]:
    photo = next(root.glob("*.jpg"))
    spare, secret = root.parent / "spare.jpg", root.parent / "secret.txt"
    os.link(photo, spare)
    secret.write_bytes(b"SECRET-OUTSIDE " * 50)
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            os.symlink(secret, root / "swap.tmp")
            os.replace(root / "swap.tmp", photo)
            os.link(spare, root / "swap.tmp")
            os.replace(root / "swap.tmp", photo)
            time.sleep(0.0002)  # lets the requesting thread have the GIL

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    leaks, got = 0, []
    try:
        with httpx.Client(base_url=server.base) as http:
            for _ in range(RACE_REQUESTS):
                try:
                    answer = http.get("/api/media", params={"id": str(photo)})
                except httpx.TransportError:
                    got.append("cut")
                    continue
                got.append(answer.status_code)
                leaks += b"SECRET-OUTSIDE" in answer.content
    finally:
        stop.set()
        swapper.join(10)
    return leaks == 0, f"{RACE_REQUESTS} requests while swapping: {leaks} served the outside file; {statuses(got)}"


@attack
def giant_images(server: Server, root: Path) -> tuple[bool, str]:
    path = root.parent / "giant.png"
    Image.new("RGBA", (GIANT, GIANT), (200, 30, 30, 128)).save(path, compress_level=9)
    body = path.read_bytes()
    server.reset_peak()

    def search(_):
        with httpx.Client(base_url=server.base, timeout=120) as http:
            return http.post("/api/search", files={"file": ("g.png", body, "image/png")}).status_code

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(search, range(8)))
    peak = server.peak_rss
    shown = (f"8 concurrent searches by a {len(body) // 1024} KB {GIANT}x{GIANT} RGBA PNG: {statuses(got)}, "
             f"peak RSS {peak / 2**20:.0f} MB")
    return all(s < 500 for s in got) and peak < 2 * 2**30, shown


def endless_upload(server: Server, path: str, headers: dict, offered: int = 512 * 2**20) -> tuple[int | None, int]:
    boundary = "attackboundary"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + b"\x89PNG\r\n\x1a\n"
    chunk = bytes(256 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", httpx.URL(server.base).port), timeout=60) as sock:
        sock.sendall(head + b"%x\r\n%b\r\n" % (len(part), part))
        try:
            while sent < offered:
                readable, _, _ = select.select([sock], [sock], [], 60)
                if readable:
                    break
                sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            answer = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return None, sent
    return (int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/") else None), sent


@attack
def unbounded_bodies(server: Server, root: Path) -> tuple[bool, str]:
    before = folder_bytes(server.uploads)
    server.reset_peak()
    cases = {"search, no limit header": ("/api/search", {}), "add, no key": ("/api/items", {}),
             "add, with key": ("/api/items", {"X-API-Key": KEY})}
    results = {name: endless_upload(server, *case) for name, case in cases.items()}
    grown = folder_bytes(server.uploads) - before
    bounded = all(sent < (UPLOAD_MB + 16) * 2**20 and status in (None, 401, 413) for status, sent in results.values())
    shown = "; ".join(f"{name}: {status} after {sent / 2**20:.0f} MB sent" for name, (status, sent) in results.items())
    return bounded and grown <= UPLOAD_MB * 2**20, (f"512 MB chunked offered: {shown}; uploads grew {grown} B, "
                                                   f"peak RSS {server.peak_rss / 2**20:.0f} MB")


@attack
def nesting(server: Server, root: Path) -> tuple[bool, str]:
    deep = '{"$and": [' * 400 + '{"a": 1}' + "]}" * 400
    deep_parts = "[" * 2000 + "]" * 2000
    asked = [{"q": "dog", "where": deep[:4000]}, {"q": "dog", "parts": deep_parts[:4000]}, {"like": "~nosuchuser"},
             {"like": "~root"}]
    got = []
    for params in asked:
        try:
            got.append(httpx.get(f"{server.base}/api/search", params=params, timeout=30).status_code)
        except httpx.TransportError:
            got.append("reset")
    return all(isinstance(s, int) and 400 <= s < 500 for s in got), \
        f"deep where, deep parts, like=~nosuchuser, like=~root: {got}"


@attack
def timeouts(server: Server, root: Path) -> tuple[bool, str]:
    photo = str(max(root.glob("*.jpg")))
    with httpx.Client(base_url=server.base, timeout=60) as http:
        long = http.get("/api/explain", params={"id": photo, "text": " ".join(["dog"] * 1000)[:2000]})
        started = time.monotonic()
        most = http.get("/api/explain", params={"id": photo, "text": " ".join(["a dog runs"] * 21)})
        took = time.monotonic() - started
    return (long.status_code == 422 and most.status_code in (200, 504),
            f"a 1,000-word explanation: {long.status_code}; a 63-word one: {most.status_code} in {took:.1f} s")


@attack
def host_header(server: Server, root: Path) -> tuple[bool, str]:
    with httpx.Client(base_url=server.base) as http:
        got = {host: http.get("/api/info", headers={"Host": host}).status_code
               for host in ("rebind.attacker.example", "127.0.0.1.nip.io", "localhost", "127.0.0.1")}
        docs = http.get("/docs").text
    cdn = "cdn." in docs or "https://" in docs
    return (got["rebind.attacker.example"] == 400 and got["127.0.0.1.nip.io"] == 400 and got["localhost"] == 200
            and not cdn), f"{got}; /docs from a CDN: {cdn}"


@attack
def stored_xss(server: Server, root: Path) -> tuple[bool, str]:
    return replay_stored_xss(server.base, root, KEY)


def photo_root(work: Path) -> Path:
    data = Path(os.environ.get("MMR_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    root = work / "root"
    root.mkdir()
    for photo in sorted((data / "flickr8k-500" / "images").glob("*.jpg"))[:PHOTOS]:
        shutil.copy(photo, root / photo.name)
    return root


def main() -> int:
    from mmret.api import Collection

    OUT.mkdir(exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmret-attack-") as folder:
        work = Path(folder)
        root = photo_root(work)
        Collection.open(work / "c").add([root], workers=0)
        server = Server(work, root)
        try:
            for run in ATTACKS:
                started = time.monotonic()
                try:
                    ok, outcome = run(server, root)
                except Exception as error:  # noqa: BLE001 -- a crashed attack is a row, not the end of the run
                    ok, outcome = False, f"the attack itself failed: {type(error).__name__}: {error}"
                rows.append({"attack": run.__name__, "ok": ok, "outcome": outcome,
                             "seconds": round(time.monotonic() - started, 1)})
                print(f"{run.__name__:<17} {'ok' if ok else 'FAIL':<5} {rows[-1]['seconds']:>6} s  {outcome}", flush=True)
            peak, uploads = server.peak_rss, folder_bytes(server.uploads)
            errors = [line for line in server.log.read_text().splitlines() if "Error" in line or "error" in line]
        finally:
            server.stop()
    summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.platform(),
               "cpus": os.cpu_count(), "rows": rows, "uploads_bytes_at_end": uploads,
               "server_error_lines": errors[-40:]}
    (OUT / "serve_attack.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(errors[-40:]))
    print(f"uploads folder at the end: {uploads} B; last peak RSS window {peak / 2**20:.0f} MB")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
