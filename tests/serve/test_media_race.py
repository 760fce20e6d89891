"""A stored file swapped for a symlink to a file outside the roots, again and again while it is requested, is
never served: the server checks and serves one opened descriptor (real server, loopback, bounded count)."""
from __future__ import annotations

import os
import threading
import time

import httpx

from .conftest import client_for, square
from .real_server import running

REQUESTS = 1000


def test_swapping_a_file_for_a_symlink_never_serves_outside_the_roots(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    photo = square(root / "photo.png", (200, 30, 30))
    keep = tmp_path / "kept.png"
    os.link(photo, keep)  # the photo's inode, to swap back in
    secret = outside / "secret.txt"
    secret.write_bytes(b"SECRET " * 100)
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            os.symlink(secret, root / "link.tmp")
            os.replace(root / "link.tmp", photo)
            os.link(keep, root / "photo.tmp")
            os.replace(root / "photo.tmp", photo)
            time.sleep(0.0002)  # lets the requesting thread have the GIL

    with client_for(tmp_path / "c", root, tmp_path / "t") as client, running(client.app) as address:
        item = str(photo.resolve())
        swapper = threading.Thread(target=swap, daemon=True)
        swapper.start()
        try:
            with httpx.Client(base_url=f"http://{address}", timeout=30) as http:
                answers = [fetch(http, item) for _ in range(REQUESTS)]
        finally:
            stop.set()
            swapper.join(10)
    leaked = sum(b"SECRET" in body for _, body in answers)
    statuses = {status for status, _ in answers}
    assert leaked == 0, f"{leaked} of {REQUESTS} answers served the file outside the roots"
    assert statuses <= {200, 403} and 200 in statuses, statuses  # None: a body cut off mid-way; 500: a defect


def fetch(http: httpx.Client, item: str) -> tuple[int | None, bytes]:
    try:
        answer = http.get("/api/media", params={"id": item})
    except httpx.TransportError:
        return None, b""
    return answer.status_code, answer.content
