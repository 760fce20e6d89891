"""Keys, uploads and paths: what a client sends can never write without a key, exhaust memory, or reach a file
outside the roots."""
from __future__ import annotations

import os

import pytest

from mmret.serve.security import digest, key_matches, load_key_digests

from .conftest import KEY, UPLOAD_LIMIT
from .test_search_api import png

WRITES = [("post", "/api/items/paths", {"json": {"paths": ["red.png"]}}),
          ("delete", "/api/items", {"params": {"id": "x"}}),
          ("patch", "/api/items/metadata", {"json": {"id": "x", "metadata": {}}}),
          ("post", "/api/jobs/reindex", {"json": {}})]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_need_a_valid_key(served, method, url, body):
    client, _, _ = served
    missing = getattr(client, method)(url, **body)
    assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
    wrong = getattr(client, method)(url, headers={"X-API-Key": KEY + "x"}, **body)
    assert wrong.status_code == 403 and "not valid" in wrong.json()["detail"]


def test_keys_are_kept_hashed_and_read_from_file_and_environment(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# comment\nfirst-key\n\n")
    digests = load_key_digests(keys, environ={"MMRET_API_KEYS": "second-key, third"})
    assert "first-key" not in "".join(digests) and len(digests) == 3
    assert key_matches("first-key", digests) and key_matches("third", digests)
    assert not key_matches("first-ke", digests) and not key_matches("", [digest("x")])
    with pytest.raises(ValueError, match="cannot read the API key file"):
        load_key_digests(tmp_path / "absent", environ={})


def test_bearer_key_is_accepted_and_reads_can_require_a_key(tmp_path, media_root):
    from .conftest import client_for

    with client_for(tmp_path / "c", media_root, tmp_path / "t", keys_for_reads=True) as client:
        assert client.get("/api/search", params={"q": "red"}).status_code == 401
        ok = client.get("/api/search", params={"q": "red"}, headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
        assert client.get("/healthz").status_code == 200  # probes stay open


def test_oversized_upload_is_413(served):
    client, _, _ = served
    big = png((1, 2, 3)) + os.urandom(UPLOAD_LIMIT)
    response = client.post("/api/search", files={"file": ("big.png", big, "image/png")})
    assert response.status_code == 413 and str(UPLOAD_LIMIT) in response.json()["detail"]


def test_type_comes_from_the_content_not_the_name_or_header(served):
    client, _, _ = served
    fake = client.post("/api/search", files={"file": ("photo.jpg", b"#!/bin/sh\necho hi\n" * 10, "image/jpeg")})
    assert fake.status_code == 415 and "by its content" in fake.json()["detail"]
    # a real PNG named .wav and labelled audio is searched as the image it is
    real = client.post("/api/search", files={"file": ("sound.wav", png((20, 200, 20)), "audio/wav")})
    assert real.status_code == 200 and real.json()["results"][0]["path"].endswith("green.png")


def test_corrupt_image_is_422_with_the_reason(served):
    client, _, _ = served
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * 200
    response = client.post("/api/search", files={"file": ("x.jpg", broken, "image/jpeg")})
    assert response.status_code == 422 and response.json()["detail"]


@pytest.mark.parametrize("name", ["../outside.png", "sub/../../outside.png", "/etc/passwd", "escape/outside.png",
                                  "link.png", "nothing-here.png"])
def test_paths_cannot_leave_the_roots(writable, name):
    client, _, root = writable
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "outside.png").write_bytes(png((9, 9, 9)))
    (root / "escape").unlink(missing_ok=True)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "link.png").unlink(missing_ok=True)
    (root / "link.png").symlink_to(outside / "outside.png")
    response = client.post("/api/items/paths", json={"paths": [name]}, headers={"X-API-Key": KEY})
    assert response.status_code == 403, response.text
    found = client.get("/api/search", params={"q": "grey", "k": 50}).json()["results"]
    assert not any("outside" in r["path"] for r in found)


def test_media_of_a_stored_item_outside_the_roots_is_refused(tmp_path, media_root):
    from mmret.api import Collection

    from .conftest import ColourEncoder, client_for, square

    elsewhere = square(tmp_path / "elsewhere.png", (1, 1, 1))
    with client_for(tmp_path / "c", media_root, tmp_path / "t", roots=[tmp_path / "empty"]) as client:
        Collection.open(tmp_path / "c", model=ColourEncoder()).add([elsewhere], workers=0)
        response = client.get("/api/media", params={"id": str(elsewhere.resolve())})
        assert response.status_code == 403 and "outside" in response.json()["detail"]


def test_cors_is_off_unless_configured(served):
    client, _, _ = served
    response = client.get("/api/info", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
