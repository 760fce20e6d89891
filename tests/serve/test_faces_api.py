"""The face routes on real LFW photos: every one needs the write key even though reads are open; search by an
uploaded face finds the same person's photos with the face box; forgetting leaves no face."""
from __future__ import annotations

import shutil

import pytest

from .conftest import KEY, ColourEncoder

pytest.importorskip("dlib")
AUTH = {"X-API-Key": KEY}
PEOPLE = ("Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo")


@pytest.fixture
def faces_server(tmp_path, data_dir):
    from fastapi.testclient import TestClient

    from mmret.api import Collection
    from mmret.serve.app import create_app
    from mmret.serve.security import digest
    from mmret.serve.settings import ServeSettings

    source = data_dir / "lfw-158" / "images"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    root = tmp_path / "photos"
    root.mkdir()
    for person in PEOPLE:
        for path in sorted((source / person).glob("*.jpg"))[:3]:
            shutil.copy(path, root)
    collection = Collection.open(tmp_path / "c", model=ColourEncoder())
    collection.add([root], workers=0, faces=True)
    settings = ServeSettings(roots=[root], api_keys=[digest(KEY)], thumbnail_dir=tmp_path / "thumbs",
                             refresh_interval=0.0)
    with TestClient(create_app(collection, settings), base_url="http://localhost") as client:
        yield client, root


def test_face_routes_need_the_write_key_even_with_open_reads(faces_server):
    client, root = faces_server
    photo = min(root.glob("Adrien*")).read_bytes()
    assert client.get("/api/search", params={"q": "red"}).status_code == 200  # reads are open
    assert client.get("/api/faces/people").status_code == 401
    assert client.post("/api/faces/search", files={"file": ("q.jpg", photo, "image/jpeg")}).status_code == 401
    assert client.post("/api/faces/forget", data={"all": "true"}).status_code == 401
    assert client.post("/api/faces/cluster", headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 403


def test_search_by_an_uploaded_face_then_name_and_forget(faces_server):
    client, root = faces_server
    query = min(root.glob("Adrien*"))
    answer = client.post("/api/faces/search", headers=AUTH, data={"k": "3"},
                         files={"file": ("q.jpg", query.read_bytes(), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["path"].rsplit("/", 1)[1][:12] for r in results] == ["Adrien_Brody"] * 3
    assert all(len(r["metadata"]["face_box"]) == 4 and r["segment"]["kind"] == "face" for r in results)
    total = client.post("/api/faces/cluster", headers=AUTH).json()["faces"]
    assert total >= 9  # a photo may show more than its person
    people = client.get("/api/faces/people", headers=AUTH).json()
    assert sum(p["faces"] for p in people) == total and all(len(p["sample"]["box"]) == 4 for p in people)
    first = people[0]["person"]
    assert client.post(f"/api/faces/people/{first}/name", headers=AUTH, data={"name": "Ana"}).status_code == 200
    assert client.get("/api/faces/people", headers=AUTH).json()[0]["name"] == "Ana"
    assert client.post("/api/faces/forget", headers=AUTH).status_code == 422  # neither a person nor all
    assert client.post("/api/faces/forget", headers=AUTH, data={"all": "true"}).json()["faces"] == total
    assert client.get("/api/faces/people", headers=AUTH).json() == []


def test_a_query_photo_without_a_face_is_422(faces_server, tmp_path):
    from PIL import Image

    client, _ = faces_server
    Image.new("RGB", (120, 120), (90, 140, 200)).save(tmp_path / "sky.png")
    answer = client.post("/api/faces/search", headers=AUTH,
                         files={"file": ("sky.png", (tmp_path / "sky.png").read_bytes(), "image/png")})
    assert answer.status_code == 422 and "no face found" in answer.json()["detail"]
