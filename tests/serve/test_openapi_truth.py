"""The OpenAPI document says what the server does: who needs a key, which statuses come back, which values a
parameter takes and how it is written; and the server answers the edge cases the document promises."""
from __future__ import annotations

import pytest

from .conftest import KEY, client_for

AUTH = {"X-API-Key": KEY}
READS = [("/api/search", "get"), ("/api/search", "post"), ("/api/items", "get"), ("/api/media", "get"),
         ("/api/thumbnail", "get"), ("/api/info", "get"), ("/api/jobs", "get"), ("/api/explain", "get")]
WRITES = [("/api/items", "post"), ("/api/items/paths", "post"), ("/api/items", "delete"),
          ("/api/items/metadata", "patch"), ("/api/jobs/reindex", "post")]


def operations(client) -> dict:
    return client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("keys_for_reads", [False, True])
def test_only_what_needs_a_key_is_marked_so(tmp_path, media_root, keys_for_reads):
    with client_for(tmp_path / "c", media_root, tmp_path / "t", keys_for_reads=keys_for_reads) as client:
        paths = operations(client)
        assert all("security" in paths[path][method] for path, method in WRITES)
        assert all(("security" in paths[path][method]) == keys_for_reads for path, method in READS)
        assert all("security" not in paths[path]["get"] for path in ("/healthz", "/readyz", "/metrics"))
        assert (client.get("/api/info").status_code == 401) == keys_for_reads


def test_parameters_and_statuses_are_declared(served):
    client, _, _ = served
    paths = operations(client)
    assert "400" in paths["/api/search"]["get"]["responses"] and "416" in paths["/api/media"]["get"]["responses"]
    side = next(p for p in paths["/api/thumbnail"]["get"]["parameters"] if p["name"] == "side")
    assert side["schema"]["enum"] == [128, 256, 512]
    for name in ("where", "parts"):
        parameter = next(p for p in paths["/api/search"]["get"]["parameters"] if p["name"] == name)
        assert parameter["schema"]["contentMediaType"] == "application/json"


def test_a_range_ending_before_it_starts_is_416(served):
    client, _, root = served
    clip = str((root / "clip.mp4").resolve())
    assert client.get("/api/media", params={"id": clip}, headers={"Range": "bytes=100-50"}).status_code == 416
    assert client.get("/api/media", params={"id": clip}, headers={"Range": "bytes=50-100"}).status_code == 206


def test_a_number_is_not_a_boolean(writable):
    client, _, _ = writable
    answer = client.post("/api/jobs/reindex", json={"sync": 0}, headers=AUTH)
    assert answer.status_code == 422 and "sync" in answer.json()["detail"]


def test_a_nul_byte_in_a_path_is_named_as_such(writable):
    client, _, _ = writable
    answer = client.post("/api/items/paths", json={"paths": ["red\x00.png"]}, headers=AUTH)
    assert answer.status_code == 422 and "NUL byte" in answer.json()["detail"]


def test_empty_paths_are_refused_and_repeated_ones_indexed_once(writable):
    client, _, root = writable
    empty = client.post("/api/items/paths", json={"paths": ["", "", ""]}, headers=AUTH)
    assert empty.status_code == 422, empty.text
    again = client.post("/api/items/paths", json={"paths": ["red.png", "./red.png", str(root / "red.png")]},
                        headers=AUTH).json()
    assert again == {"added": 0, "updated": 0, "unchanged": 1, "skipped": [], "ids": []}
