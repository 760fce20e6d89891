"""Only the server's own host names are answered (DNS rebinding), and /docs loads nothing from another origin."""
from __future__ import annotations

import re

import pytest

from .conftest import client_for


@pytest.mark.parametrize(("host", "status"), [("localhost", 200), ("127.0.0.1:8000", 200), ("[::1]:8000", 200),
                                              ("rebind.attacker.example", 400), ("photos.lan", 200),
                                              ("evil.localhost", 400), ("", 400)])
def test_only_allowed_host_names_are_answered(tmp_path, media_root, host, status):
    allowed = ["127.0.0.1", "localhost", "::1", "[::1]", "photos.lan"]
    with client_for(tmp_path / "c", media_root, tmp_path / "t", allowed_hosts=allowed) as client:
        for url in ("/api/info", "/api/media?id=" + str((media_root / "red.png").resolve())):
            assert client.get(url, headers={"Host": host}).status_code == status


def test_docs_load_swagger_ui_from_this_server(served):
    client, _, _ = served
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        assert client.get(source).status_code == 200, source
    assert client.get("/redoc").status_code == 404  # ReDoc would come from a CDN
