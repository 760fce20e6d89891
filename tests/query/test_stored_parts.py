""""More like this" searches with the item's stored vectors (mmret.query.stored_parts), on a real collection of shared
photos, a text note and a video made of photos, embedded by the offline model at fp32: the ranking is the one of the
photo re-embedded by the encoder (the oracle), it survives the file's deletion, a shot's query is its pooled
keyframes (not a frame), the item's file is left out, and the API, the CLI and the server agree."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from mmret import Collection
from mmret.data.video import VideoSettings, iter_shots
from mmret.encoders.base import SHARED, l2_normalise
from mmret.errors import NotFound
from mmret.eval.video_set import build_video_set
from mmret.query.parts import ITEM, QueryPart
from mmret.query.request import Query
from mmret.query.stored_parts import StoredParts
from mmret.query.vectors import query_vector

from ..vectors import random_unit_vectors

PHOTOS = 10
IMAGE = "image"  # the offline model's own image space, where image-only queries go


@pytest.fixture(scope="module")
def fp32_encoder():
    from mmret.encoders.offline import OfflineEncoder

    return OfflineEncoder("fp32")


@pytest.fixture(scope="module")
def library(tmp_path_factory, data_dir, fp32_encoder):
    """(Collection, photo paths, video truth): copies of shared photos (deletable), a note, a video of photos."""
    pytest.importorskip("av")
    root = tmp_path_factory.mktemp("media")
    photos = []
    for source in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:PHOTOS]:
        photos.append(root / source.name)
        shutil.copy(source, photos[-1])
    (root / "notes.csv").write_text("id,text\nnote-dog,a dog running on the grass\n")
    video = build_video_set(root / "videos", data_dir / "flickr8k-500" / "captions.json", 1, seed=5, fps=8,
                            size=(160, 120), formats=("mp4",))[0]
    collection = Collection.open(tmp_path_factory.mktemp("coll") / "c", fp32_encoder)
    report = collection.add([*photos, root / "notes.csv", video.path], workers=0)
    assert report.skipped == []
    return collection, photos, video


def ranked(hits) -> list[tuple[str, float]]:
    return [(hit.record.item_id, hit.score) for hit in hits]


def exact_ranking(query: np.ndarray, candidates: dict[str, np.ndarray], k: int) -> list[tuple[str, float]]:
    ids = sorted(candidates)
    scores = np.stack([candidates[i] for i in ids]) @ query
    return [(ids[j], float(scores[j])) for j in np.argsort(-scores, kind="stable")[:k]]


def assert_same_ranking(got, expected, atol=1e-4):
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], atol=atol)


@pytest.mark.parametrize("space", [IMAGE, SHARED])
def test_like_a_photo_ranks_as_the_photo_re_embedded_at_fp32(library, fp32_encoder, space):
    collection, photos, _ = library
    liked, others = photos[3], [p for p in photos if p != photos[3]]
    from PIL import Image

    with Image.open(liked) as image:
        query = fp32_encoder.encode("image", [image], space)[0]
    with_images = [Image.open(p) for p in others]
    candidates = dict(zip(map(str, others), fp32_encoder.encode("image", with_images, space)))
    for image in with_images:
        image.close()
    rest = [r.item_id for r in collection.store.records() if r.modality != "image"]  # the video's shots, the note
    candidates.update(collection.store.vectors_of(rest, space))  # as stored: the oracle re-embeds photos only
    hits = collection.search(like=str(liked), k=len(others), space=None if space == IMAGE else space,
                             per_file=False)
    assert_same_ranking(ranked(hits), exact_ranking(query, candidates, len(others)))
    assert str(liked) not in [i for i, _ in ranked(hits)]


def test_like_works_once_the_file_is_deleted(library, tmp_path):
    collection, photos, _ = library
    before = ranked(collection.search(like=str(photos[0]), k=5))
    moved = tmp_path / photos[0].name
    shutil.move(photos[0], moved)
    try:
        assert ranked(collection.search(like=str(photos[0]), k=5)) == before
    finally:
        shutil.move(moved, photos[0])


def test_a_shots_query_is_its_pooled_keyframes_not_a_frame(library, fp32_encoder):
    collection, _, video = library
    shots = sorted(collection.store.find({"segment_of": video.path, "segment": "shot"}),
                   key=lambda r: r.metadata["start"])
    decoded = list(iter_shots(video.path, VideoSettings()))
    index = next(i for i, shot in enumerate(decoded) if len(shot.frames) >= 2)  # a frame differs from the pool
    shot, record = decoded[index], shots[index]
    pooled = l2_normalise(fp32_encoder.encode("image", shot.frames, IMAGE).mean(axis=0, keepdims=True))[0]
    middle = fp32_encoder.encode("image", [shot.frames[len(shot.frames) // 2]], IMAGE)[0]
    query = Query(like=record.item_id)
    vector, space = query_vector(collection.encoder, query, StoredParts(collection.store, query.all_parts))
    assert space == IMAGE
    np.testing.assert_allclose(vector, collection.store.vectors_of([record.item_id], IMAGE)[record.item_id],
                               atol=1e-6)
    assert float(vector @ pooled) > 0.9999
    assert float(vector @ middle) < float(vector @ pooled) - 1e-3


def test_the_liked_items_file_is_left_out_with_all_its_segments(library):
    collection, photos, video = library
    shots = collection.store.find({"segment_of": video.path, "segment": "shot"})
    query = Query(like=video.path)  # the whole video stands for the unit mean of its shots' stored vectors
    vector, space = query_vector(collection.encoder, query, StoredParts(collection.store, query.all_parts))
    mean = np.mean(list(collection.store.vectors_of([r.item_id for r in shots], IMAGE).values()), axis=0)
    assert space == IMAGE and len(shots) >= 2
    np.testing.assert_allclose(vector, mean / np.linalg.norm(mean), atol=1e-6)
    for name in (shots[0].item_id, video.path):
        hits = collection.search(like=name, k=50, per_file=False)
        assert hits and all(video.path not in (h.record.item_id, h.record.metadata.get("segment_of")) for h in hits)
    hits = collection.search(like=str(photos[1]), k=50, per_file=False, exclude=[str(photos[2])])
    assert {str(photos[1]), str(photos[2])}.isdisjoint(h.record.item_id for h in hits)
    assert len(hits) == len(collection.store.vectors_of([r.item_id for r in collection.store.records()], IMAGE)) - 2


def test_a_stored_item_is_one_part_of_a_composed_query(library, fp32_encoder):
    collection, photos, _ = library
    x, y = str(photos[4]), str(photos[5])
    parts = [QueryPart("text", "a child playing", 0.5), QueryPart(ITEM, y, -1.0)]
    hits = collection.search(like=x, parts=parts, k=6, per_file=False, mode="semantic")  # vectors alone
    ids = [r.item_id for r in collection.store.records() if r.item_id not in (x, y)]
    stored = collection.store.vectors_of([x, y, *ids], SHARED)
    query = stored[x] + 0.5 * fp32_encoder.encode("text", ["a child playing"])[0] - stored[y]
    expected = exact_ranking(query / np.linalg.norm(query), {i: stored[i] for i in ids if i in stored}, 6)
    assert_same_ranking(ranked(hits), expected)


def test_api_cli_and_server_give_the_same_results(library, run, tmp_path):
    from fastapi.testclient import TestClient

    from mmret.serve.app import create_app
    from mmret.serve.settings import ServeSettings

    collection, photos, video = library
    shot = collection.store.find({"segment_of": video.path, "segment": "shot"})[0].item_id
    settings = ServeSettings(roots=[photos[0].parent], thumbnail_dir=tmp_path / "thumbs", refresh_interval=0.0)
    with TestClient(create_app(collection, settings), base_url="http://localhost") as client:
        for item in (str(photos[6]), shot, "note-dog"):
            api = [(h.record.item_id, round(h.score, 6)) for h in collection.search(like=item, k=5)]
            code, out, err = run("search", "--like", item, "--collection", collection.path, "-k", 5, "--json",
                                 "--precision", "fp32")
            assert code == 0, err
            cli = [(row["id"], row["score"]) for row in json.loads(out)["results"]]
            served = client.get("/api/search", params={"like": item, "k": 5}).json()["results"]
            assert api == cli == [(row["id"], row["score"]) for row in served] and len(api) == 5


def test_unknown_ids_and_missing_vectors_get_clear_errors(library, run, tmp_path):
    from fastapi.testclient import TestClient

    from mmret.serve.app import create_app
    from mmret.serve.settings import ServeSettings

    collection, photos, _ = library
    with pytest.raises(ValueError, match=f"like 'no-such-item': no stored item .* in {collection.path}"):
        collection.search(like="no-such-item")
    code, _, err = run("search", "--like", "no-such-item", "--collection", collection.path)
    assert code == NotFound.exit_code and "no-such-item" in err and str(collection.path) in err
    with pytest.raises(ValueError, match="item 'note-dog' .* has no vector in space 'image' \\(it has vectors in: "
                                         "shared\\)"):
        collection.search(like="note-dog", space=IMAGE)
    settings = ServeSettings(roots=[photos[0].parent], thumbnail_dir=tmp_path / "thumbs", refresh_interval=0.0)
    with TestClient(create_app(collection, settings), base_url="http://localhost") as client:
        missing = client.get("/api/search", params={"like": "no-such-item"})
        assert missing.status_code == 404 and "no-such-item" in missing.json()["detail"]
        no_vector = client.get("/api/search", params={"like": "note-dog", "space": IMAGE})
        assert no_vector.status_code == 422 and "has no vector in space 'image'" in no_vector.json()["detail"]


def test_in_a_fusion_collection_a_like_query_is_the_fused_item(data_dir, fp32_encoder, tmp_path):
    from mmret.data.decode import read_image

    records = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text(encoding="utf-8"))[:6]
    rows = [{"path": str(data_dir / "flickr8k-500" / r["image"]), "text": r["captions"][0]} for r in records]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    collection = Collection.open(tmp_path / "fused", fp32_encoder, fusion="mean")
    assert collection.add([tmp_path / "items.jsonl"], workers=0).added == 6
    liked, others = rows[0]["path"], [row["path"] for row in rows[1:]]
    parts = {"image": fp32_encoder.encode("image", [read_image(liked)])[:1],
             "text": fp32_encoder.encode("text", [rows[0]["text"]])}
    query = Query(like=liked)
    vector, space = query_vector(collection.encoder, query, StoredParts(collection.store, query.all_parts))
    assert space == SHARED
    np.testing.assert_allclose(vector, collection.encoder.fuse(parts, 1)[0], atol=1e-4)
    # decision-level: one list per part space the item has a vector in, fused by reciprocal rank (k = 60)
    expected: dict[str, float] = {}
    for part_space in ("part-image", "part-text"):
        stored = collection.store.vectors_of([liked, *others], part_space)
        for rank, (item, _) in enumerate(exact_ranking(stored[liked], {i: stored[i] for i in others}, 5), 1):
            expected[item] = expected.get(item, 0.0) + 1 / (60 + rank)
    hits = collection.search(like=liked, fusion="rrf", k=5, per_file=False)
    assert {h.record.item_id: pytest.approx(h.score, abs=1e-9) for h in hits} == expected


@pytest.mark.parametrize("name", ["ext", "ext.db"])  # the embedded backend, Milvus Lite
def test_a_like_query_needs_no_model(tmp_path, run, name):
    """Vectors made elsewhere, under a model id mmret cannot load: more like this searches them all the same."""
    if name.endswith(".db"):
        pytest.importorskip("milvus_lite")
    place = tmp_path / name
    vectors = random_unit_vectors(np.random.default_rng(7), 50, 8)
    Collection.create_for_vectors(place, "made-elsewhere", {SHARED: 8}).add_vectors(vectors)
    expected = exact_ranking(vectors[3], {str(i): vectors[i] for i in range(50) if i != 3}, 5)
    assert_same_ranking(ranked(Collection.open(place).search(like="3", k=5)), expected, atol=1e-6)
    code, out, err = run("search", "--like", "3", "--collection", place, "--json", "-k", 5)
    assert code == 0, err
    assert [row["id"] for row in json.loads(out)["results"]] == [i for i, _ in expected]
    code, _, err = run("search", "--like", "3", "--text", "a dog", "--collection", place)
    assert code == 2 and "made-elsewhere" in err  # a text part needs the model, which is not here
