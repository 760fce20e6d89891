"""A file indexed through a symlinked folder is one item, named by the symlinked path or by the real one (issue 21,
item 7): get, vectors_of, remove, like and exclude find it both ways, on both backends, through the API, the CLI and
the server. A file's id is its resolved path (mmret.data.items.file_id)."""
from __future__ import annotations

import json

import pytest

from mmret import Collection

from .serve.conftest import KEY, ColourEncoder, client_for

FOLDER = ("caltech101", "images", "octopus")


@pytest.fixture
def linked_folder(tmp_path, data_dir):
    """(a symlink in tmp_path to a shared photo folder, the folder's real path)."""
    real = data_dir.joinpath(*FOLDER)
    if not real.is_dir():
        pytest.skip(f"shared folder {real} not found")
    link = tmp_path / "linked"
    link.symlink_to(real, target_is_directory=True)
    return link, real


@pytest.fixture(params=["c", "c.db"])  # the embedded backend, Milvus Lite
def indexed(request, tmp_path, linked_folder):
    """(collection indexed through the link, photos named through the link, the same photos' real paths)."""
    if request.param.endswith(".db"):
        pytest.importorskip("milvus_lite")
    link, real = linked_folder
    collection = Collection.open(tmp_path / request.param, ColourEncoder())
    assert collection.add([link], workers=0).added == len(list(real.iterdir()))
    names = sorted(path.name for path in real.iterdir())
    return collection, [str(link / name) for name in names], [str(real / name) for name in names]


def test_an_item_is_found_by_its_symlinked_its_real_and_its_relative_path(indexed, monkeypatch):
    collection, linked, real = indexed
    monkeypatch.chdir(collection.path.parent)
    relative = f"linked/{real[0].rsplit('/', 1)[1]}"
    assert {collection.get(name).item_id for name in (linked[0], real[0], relative)} == {real[0]}
    assert collection.get(f"{linked[0]}.missing") is None
    by_link, by_real = collection.vectors_of(linked), collection.vectors_of(real)
    assert list(by_link) == linked and list(by_real) == real
    assert all((by_link[a] == by_real[b]).all() for a, b in zip(linked, real))


def test_like_and_exclude_take_either_path(indexed):
    collection, linked, real = indexed
    ids = [hit.record.item_id for hit in collection.search(like=linked[0], k=len(real))]
    assert ids == [hit.record.item_id for hit in collection.search(like=real[0], k=len(real))]
    assert sorted(ids) == real[1:]  # every other photo, and not the liked one
    kept = collection.search(text="red", k=len(real), exclude=[linked[1], real[2]])
    assert sorted(hit.record.item_id for hit in kept) == [real[0], *real[3:]]


def test_remove_takes_either_path(indexed):
    collection, linked, real = indexed
    assert collection.remove([linked[0]]) == 1 and collection.remove([real[1]]) == 1
    assert collection.remove([real[0], linked[1]]) == 0
    assert len(collection) == len(real) - 2 and collection.get(linked[1]) is None


def test_the_cli_removes_and_likes_by_the_symlinked_path(indexed, run):
    collection, linked, real = indexed
    code, out, err = run("search", "--like", linked[0], "--collection", collection.path, "--json", "-k", 3)
    assert code == 0, err
    liked = [row["id"] for row in json.loads(out)["results"]]
    _, out, _ = run("search", "--like", real[0], "--collection", collection.path, "--json", "-k", 3)
    assert liked == [row["id"] for row in json.loads(out)["results"]] and real[0] not in liked
    code, out, err = run("remove", linked[0], "--collection", collection.path)
    assert code == 0 and out.startswith("removed 1 items"), err


def test_the_server_reads_and_removes_by_the_symlinked_path(tmp_path, linked_folder):
    link, real = linked_folder
    photo = min(real.iterdir())
    with client_for(tmp_path / "c", link, tmp_path / "thumbs") as client:
        found = client.get("/api/items", params={"id": str(link / photo.name)})
        assert found.status_code == 200 and found.json()["id"] == str(photo)
        removed = client.delete("/api/items", params={"id": str(link / photo.name)}, headers={"X-API-Key": KEY})
        assert removed.status_code == 200 and removed.json()["removed"] == 1
        assert client.get("/api/items", params={"id": str(photo)}).status_code == 404
