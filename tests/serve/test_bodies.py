"""A request body is read only as far as it may go: a write without a valid key is refused before its body is
read, and an upload stops being read at the server's limit (413), on a real server over a socket."""
from __future__ import annotations

import pytest

from .conftest import KEY, UPLOAD_LIMIT, client_for
from .real_server import running, stream_chunked
from .test_search_api import png

OFFERED = 96 * 1024 * 1024  # what the client would send; the server must stop long before
READ_AT_MOST = 16 * 1024 * 1024  # the limit plus what the kernel's socket buffers hold
BOUNDARY = "b0undary"
FORM_HEAD = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
             "Content-Type: image/png\r\n\r\n").encode()


@pytest.fixture
def server(tmp_path, media_root):
    with client_for(tmp_path / "c", media_root, tmp_path / "t") as client, running(client.app) as address:
        yield address, tmp_path / "c" / "uploads"


def folder_bytes(folder) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/api/search", {}, 413),
    ("/api/items", {"X-API-Key": KEY}, 413),
    ("/api/items", {}, 401),
    ("/api/items", {"X-API-Key": KEY + "x"}, 403)])
def test_an_endless_upload_is_cut_off(server, path, headers, status):
    address, uploads = server
    form = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **headers}
    answered, sent = stream_chunked(address, "POST", path, form, OFFERED, head=FORM_HEAD + png((1, 2, 3)))
    assert sent < READ_AT_MOST, f"the server read {sent} bytes before answering"
    assert answered in (status, None)  # None: the server closed the socket with the body unread, after answering
    assert folder_bytes(uploads) <= UPLOAD_LIMIT


def test_a_keyless_json_write_is_refused_before_its_body(server):
    address, _ = server
    answered, sent = stream_chunked(address, "PATCH", "/api/items/metadata", {"Content-Type": "application/json"},
                                    OFFERED, head=b'{"id": "x", "metadata": {"k": "')
    assert sent < READ_AT_MOST and answered in (401, None)
