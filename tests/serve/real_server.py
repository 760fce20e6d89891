"""A real uvicorn server on loopback (in a thread of the test process) and a raw HTTP client that streams a
chunked body, for defects that a TestClient cannot show: what the server reads off the socket."""
from __future__ import annotations

import select
import socket
import threading
import time
from contextlib import contextmanager

import uvicorn


@contextmanager
def running(app):
    """The base address of `app` served by uvicorn on 127.0.0.1 at a free port, until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def stream_chunked(address: str, method: str, path: str, headers: dict[str, str], total: int,
                   head: bytes = b"", chunk: int = 64 * 1024) -> tuple[int | None, int]:
    """Send `head` then zero bytes, up to `total` bytes, as a chunked body without Content-Length; stop as soon as
    the server answers. Returns (the status, or None if the connection was reset first; the bytes sent)."""
    host, port = address.split(":")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked",
             *(f"{k}: {v}" for k, v in headers.items())]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent, payload = 0, head + bytes(chunk - len(head))
        try:
            while sent < total:
                readable, writable, _ = select.select([sock], [sock], [], 30)
                if readable:
                    break
                if writable:
                    sock.sendall(b"%x\r\n%b\r\n" % (len(payload), payload))
                    sent += len(payload)
                    payload = bytes(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
            answer = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return None, sent
    return (int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1 ") else None), sent
