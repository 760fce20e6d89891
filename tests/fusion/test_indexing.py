"""Indexing photo+title items with a fusion: each part's vector and the fused vector are stored, an item missing a
part is fused from what it has and counted, and a query caption finds its photo through the fused vectors."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mmret.encoders.base import SHARED
from mmret.encoders.fused import PART_SPACES, FusedEncoder, split_fusion_suffix
from mmret.index.collection import VectorCollection
from mmret.pipeline import Ingest
from mmret.models import load_encoder, with_fusion

ITEMS = 24


@pytest.fixture(scope="module")
def catalogue(data_dir, tmp_path_factory):
    """A photo+title manifest of flickr8k-500 images: caption 0 is the title; the last photo has no title and one
    row is a title without a photo. Returns (manifest, the other captions of each photo)."""
    records = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())[:ITEMS]
    manifest = tmp_path_factory.mktemp("catalogue") / "catalogue.csv"
    with manifest.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["path", "text"])
        for number, record in enumerate(records):
            title = record["captions"][0] if number < ITEMS - 1 else ""
            writer.writerow([str(data_dir / "flickr8k-500" / record["image"]), title])
        writer.writerow(["", "a title without any photo"])
    return manifest, [record["captions"][1:] for record in records]


@pytest.fixture(scope="module")
def fused_encoder(offline_encoder):
    return with_fusion(offline_encoder, "mean")


@pytest.fixture(scope="module")
def indexed(catalogue, fused_encoder, tmp_path_factory):
    store = VectorCollection.create(tmp_path_factory.mktemp("collection") / "c", fused_encoder.model_id,
                                    dict(fused_encoder.spaces))
    report = Ingest(store, fused_encoder, progress=False, workers=0).run([catalogue[0]])
    return store, report


def test_every_part_and_the_fused_vector_are_stored(indexed):
    store, report = indexed
    assert report.added == ITEMS + 1 and report.skipped == []
    assert store.vector_count(SHARED) == ITEMS + 1
    assert store.vector_count(PART_SPACES["image"]) == ITEMS
    assert store.vector_count(PART_SPACES["text"]) == ITEMS  # 23 titles of photos and one title alone


def test_items_missing_a_part_are_counted(indexed):
    _, report = indexed
    assert report.missing_parts == 2 and "2 fused without one of their parts" in report.summary()


def test_the_fused_vector_is_the_normalised_mean_of_the_parts(indexed, fused_encoder, catalogue):
    store, _ = indexed
    rows = list(csv.DictReader(catalogue[0].open()))
    title = fused_encoder.encode("text", [rows[0]["text"]])[0]
    hit = store.search(PART_SPACES["text"], title[None], 1)[0][0]
    image_hit = store.search(PART_SPACES["image"], title[None], ITEMS)[0]
    image_score = next(h.score for h in image_hit if h.record.item_id == hit.record.item_id)
    fused_score = next(h.score for h in store.search(SHARED, title[None], ITEMS + 1)[0]
                       if h.record.item_id == hit.record.item_id)
    # q . normalise(t + i) = (q.t + q.i) / |t + i|, with |t + i| = sqrt(2 + 2 t.i) for unit t and i
    expected = (hit.score + image_score) / np.sqrt(2 + 2 * _part_cosine(store, fused_encoder, hit.record))
    assert fused_score == pytest.approx(expected, abs=1e-4)


def _part_cosine(store, encoder, record) -> float:
    from mmret.data.decode import open_image, read_bytes

    image = encoder.encode("image", [open_image(read_bytes(record.path), record.path)])[0]
    return float(image @ encoder.encode("text", [record.text])[0])


def test_query_captions_find_their_photo_through_the_fused_vectors(indexed, fused_encoder, catalogue):
    store, _ = indexed
    manifest, queries = catalogue
    paths = [row["path"] for row in csv.DictReader(manifest.open())][:ITEMS]
    found = 0
    for path, captions in zip(paths, queries):
        hits = store.search(SHARED, fused_encoder.encode("text", captions), 1)
        found += sum(h[0].record.path == path for h in hits)
    assert found / (4 * ITEMS) > 0.6  # title only reaches about 0.75 R@1 at 100 items; chance is 1/25


def test_a_collection_records_the_fusion_in_its_model_id(fused_encoder, offline_encoder):
    assert fused_encoder.model_id == f"{offline_encoder.model_id}+fusion:mean"
    assert split_fusion_suffix(fused_encoder.model_id) == (offline_encoder.model_id, "mean")
    reloaded = load_encoder(fused_encoder.model_id)
    assert isinstance(reloaded, FusedEncoder) and reloaded.model_id == fused_encoder.model_id


def test_a_fusion_that_needs_training_names_the_way_to_train_it(offline_encoder):
    with pytest.raises(ValueError, match="fusion 'attention' must be trained.*has no trained fusion.*fusion:"):
        with_fusion(offline_encoder, "attention")
    with pytest.raises(ValueError, match="unknown fusion 'sum'"):
        with_fusion(offline_encoder, "sum")
