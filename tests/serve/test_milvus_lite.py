"""The HTTP server over a Milvus Lite collection (issue 15): search, an upload, and following another writer."""
from __future__ import annotations

import time

import pytest

from mmret.index.backend import open_collection
from mmret.index.collection import Record

from .conftest import COLOURS, KEY, ColourEncoder, client_for, square
from .test_search_api import names, png

pytest.importorskip("milvus_lite", reason="Milvus Lite not installed (pip install pymilvus milvus-lite)")
AUTH = {"X-API-Key": KEY}


def test_served_milvus_lite_collection_searches_uploads_and_follows_other_writers(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    for name, colour in COLOURS.items():
        square(root / f"{name}.png", colour)
    database = tmp_path / "squares.db"
    with client_for(database, root, tmp_path / "thumbs") as client:
        for colour in COLOURS:
            assert names(client.get("/api/search", params={"q": colour, "k": 3}))[0] == f"{colour}.png"
        added = client.post("/api/items", files=[("files", ("new.png", png((240, 240, 10)), "image/png"))],
                            headers=AUTH)
        assert added.status_code == 200 and added.json()["added"] == 1
        assert (tmp_path / "squares.db-uploads").is_dir()  # beside the database, which Milvus Lite owns
        before = client.get("/api/info").json()
        with open_collection(database) as other:  # another writer's handle
            other.upsert([Record("note", "text", text="a red note")],
                         {"shared": ColourEncoder().encode("text", ["red"])})
        deadline = time.monotonic() + 10
        while client.get("/api/info").json()["generation"] == before["generation"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.get("/api/info").json()["items"] == before["items"] + 1 == 5
        assert client.get("/api/search", params={"q": "red", "k": 1}).json()["results"][0]["id"] == "note"
