"""Adding, removing, updating and re-indexing over HTTP, and a server that follows other processes' commits."""
from __future__ import annotations

import time

from mmret.index.collection import Record, VectorCollection

from .conftest import KEY, ColourEncoder, square
from .test_search_api import names, png

AUTH = {"X-API-Key": KEY}


def test_upload_is_stored_and_found(writable):
    client, _, _ = writable
    added = client.post("/api/items", files=[("files", ("new.png", png((240, 240, 10)), "image/png"))],
                        headers=AUTH)
    assert added.status_code == 200 and added.json()["added"] == 1
    new_id = added.json()["ids"][0]
    found = client.get("/api/search", params={"like": str(writable[2] / "red.png"), "k": 1}).json()["results"]
    assert found[0]["id"] == new_id  # yellow is the nearest to red among green, blue, yellow
    assert client.get("/api/items", params={"id": new_id}).status_code == 200


def test_uploads_keep_the_client_file_name_made_safe(writable):
    client, collection, _ = writable
    sent = ["holiday.png", "../../etc/cron.d/x\x1b[2J\u202e new.png", "holiday.png", "notes.txt", ".hidden.PNG", "/"]
    added = client.post("/api/items", files=[("files", (name, png((10 * i, 200, 30)), "image/png"))
                                             for i, name in enumerate(sent)], headers=AUTH)
    assert added.status_code == 200 and added.json()["added"] == len(sent)
    uploads = (collection / "uploads").resolve()
    expected = ["holiday.png", "x[2J new.png", "holiday-2.png", "notes.txt.png", "hidden.PNG", "upload.png"]
    assert added.json()["ids"] == [str(uploads / name) for name in expected]
    assert sorted(path.name for path in uploads.iterdir()) == sorted(expected)
    for name in expected:
        item = client.get("/api/items", params={"id": str(uploads / name)}).json()
        assert item["path"] == str(uploads / name) and item["modality"] == "image"


def test_server_side_path_delete_and_metadata(writable):
    client, _, root = writable
    square(root / "dark.png", (30, 30, 30))
    assert client.post("/api/items/paths", json={"paths": ["dark.png"]}, headers=AUTH).json()["added"] == 1
    dark = str((root / "dark.png").resolve())
    patched = client.patch("/api/items/metadata", json={"id": dark, "metadata": {"album": "night"}}, headers=AUTH)
    assert patched.status_code == 200 and patched.json()["metadata"]["album"] == "night"
    assert names(client.get("/api/search", params={"q": "red", "where": '{"album": "night"}'})) == ["dark.png"]
    # the vectors were kept: the item is still found by its colour
    assert names(client.get("/api/search", params={"like": dark, "k": 1, "where": '{"album": "night"}'})) == []
    assert client.delete("/api/items", params={"id": dark}, headers=AUTH).json() == {"removed": 1}
    assert client.get("/api/items", params={"id": dark}).status_code == 404


def test_reindex_job_reports_progress_until_done(writable):
    client, _, root = writable
    for index in range(4):
        square(root / f"more{index}.png", (index * 50, 100, 100))
    job = client.post("/api/jobs/reindex", json={}, headers=AUTH)
    assert job.status_code == 202
    deadline = time.monotonic() + 30
    while (state := client.get(f"/api/jobs/{job.json()['id']}").json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["state"] == "done", state
    assert state["files_total"] == 7 and state["files_done"] == 7 and state["report"]["added"] == 4
    assert client.get("/api/info").json()["items"] == 7


def test_commits_by_another_process_are_seen_without_restart(writable):
    client, folder, _ = writable
    before = client.get("/api/info").json()
    with VectorCollection.open(folder) as other:  # another writer, as another process would be
        vector = ColourEncoder().encode("text", ["red"])  # exactly the query's vector: the note must come first
        other.upsert([Record("note", "text", text="a red note")], {"shared": vector})
    deadline = time.monotonic() + 10
    while client.get("/api/info").json()["generation"] == before["generation"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get("/api/info").json()["items"] == before["items"] + 1
    assert client.get("/api/search", params={"q": "red", "k": 1}).json()["results"][0]["id"] == "note"


def test_status_endpoints_and_metrics(writable):
    client, _, _ = writable
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    info = client.get("/api/info").json()
    assert info["model"] == "test-colour" and info["spaces"]["shared"] == {"dimension": 3, "vectors": 3}
    client.get("/api/search", params={"q": "red"})
    assert client.get("/docs").status_code == 200 and client.get("/favicon.ico").status_code == 204
    client.get("/no/such/page")
    text = client.get("/metrics").text
    assert 'mmret_http_requests_total{method="GET",route="/api/search",status="200"}' in text
    assert 'mmret_http_requests_total{method="GET",route="/docs",status="200"}' in text
    assert 'mmret_http_requests_total{method="GET",route="/favicon.ico",status="204"}' in text
    assert 'mmret_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert "mmret_index_items 3.0" in text


def test_page_is_served_with_its_policy_and_the_api_documented(writable):
    client, _, _ = writable
    page = client.get("/")
    assert page.status_code == 200 and "<title>mmret search</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/search", "/api/items", "/api/media", "/api/thumbnail", "/api/jobs/reindex", "/metrics"} <= set(paths)
    assert "413" in paths["/api/search"]["post"]["responses"]
