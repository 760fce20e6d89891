"""`mmret serve` started in a subprocess on a free loopback port, for the benchmarks that attack or kill it."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serve(options: list[str], log: Path, timeout: float = 180.0,
                **popen) -> tuple[subprocess.Popen, str]:
    """(the server process, its base URL) once it answers /readyz; `options` are `mmret serve`'s, without --port.
    Its output goes to `log`; `popen` reaches subprocess.Popen (start_new_session, env)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mmret.cli", "serve", *options, "--port", str(port)],
                               stdout=log.open("a"), stderr=subprocess.STDOUT, **popen)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _ready(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"mmret serve did not start within {timeout:g} s: {log.read_text()[-2000:]}")
        time.sleep(0.3)
    return process, url


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
