"""End to end on a photo+title manifest of flickr8k-500: indexing with a fusion stores each part's vector and the
fused vector, an item missing a part is fused from what it has and counted, and searches find photos through the
fused vectors, a part's space, decision-level fusion and composed queries, from the API and the CLI."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from mmret import Collection, QueryPart
from mmret.cli import main
from mmret.cli.search import attached_part_values
from mmret.encoders.base import SHARED
from mmret.encoders.fused import PART_SPACES, FusedEncoder
from mmret.encoders.model_id import ModelId
from mmret.index.collection import CollectionError
from mmret.models import load_encoder, with_fusion

ITEMS = 16


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
def collection(catalogue, offline_encoder, tmp_path_factory):
    collection = Collection.open(tmp_path_factory.mktemp("collection") / "c", offline_encoder, fusion="mean")
    return collection, collection.add([catalogue[0]], workers=0)


@pytest.fixture(scope="module")
def indexed(collection):
    return collection[0].store, collection[1]


@pytest.fixture(scope="module")
def photos(catalogue):
    return [row["path"] for row in csv.DictReader(catalogue[0].open())][:ITEMS]


def test_every_part_and_the_fused_vector_are_stored(indexed):
    store, report = indexed
    assert report.added == ITEMS + 1 and report.skipped == []
    assert store.vector_count(SHARED) == ITEMS + 1
    assert store.vector_count(PART_SPACES["image"]) == ITEMS
    assert store.vector_count(PART_SPACES["text"]) == ITEMS  # the titles of all photos but the last, and one title alone


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


def recall_at_1(collection: Collection, photos: list[str], queries: list[list[str]], **options) -> float:
    """One query caption per photo (a text query takes ~0.1 s on a shared CPU)."""
    found = sum(collection.search(text=captions[0], k=1, **options)[0].record.path == path
                for path, captions in zip(photos, queries))
    return found / len(photos)


def test_query_captions_find_their_photo_by_every_path(collection, photos, catalogue):
    collection, _ = collection
    queries = catalogue[1]
    fused = recall_at_1(collection, photos, queries)
    assert fused > 0.6  # title only reaches about 0.75 R@1 at 100 items; chance is 1/17
    assert recall_at_1(collection, photos, queries, fusion="rrf") > 0.25  # unweighted: the weak image list drags
    assert recall_at_1(collection, photos, queries, space=PART_SPACES["text"]) > 0.5
    assert 0.04 < recall_at_1(collection, photos, queries, space=PART_SPACES["image"]) < fused


def test_decision_level_hits_come_from_both_part_spaces(collection, catalogue):
    collection, _ = collection
    hits = collection.search(text=catalogue[1][3][0], k=ITEMS + 1, fusion="combmnz", per_file=False)
    assert {hit.space for hit in hits} == {"combmnz"} and len(hits) == ITEMS + 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_negative_part_pushes_its_neighbours_down(collection, catalogue):
    collection, _ = collection
    title = next(r.text for r in collection.store.records() if r.path is None)  # the title without a photo
    # vectors only: in hybrid mode the title's own words would find it whatever its vector
    plain = [h.record.item_id for h in collection.search(text="a photo", k=ITEMS + 1, mode="semantic")]
    away = [h.record.item_id for h in collection.search(text="a photo", parts=[QueryPart("text", title, -1.0)],
                                                        k=ITEMS + 1, mode="semantic")]
    target = next(r.item_id for r in collection.store.records() if r.path is None)
    assert away.index(target) > plain.index(target) and away[-1] == target


def test_reopening_keeps_the_recorded_fusion_and_refuses_another(collection, offline_encoder):
    path = collection[0].store.path
    assert Collection.open(path, offline_encoder).encoder.model_id == collection[0].store.model_id
    with pytest.raises(ValueError, match="fusion 'attention' must be trained"):
        Collection.open(path, offline_encoder, fusion="attention")
    with pytest.raises(CollectionError, match=r"built with model '.*\+fusion:mean', not"):
        Collection.open(path, FusedEncoder(offline_encoder, "other"))


def test_the_cli_searches_with_composed_parts(collection, catalogue, capsys):
    assert attached_part_values(["search", "--text", "-people", "--text", "dog"]) == [
        "search", "--text=-people", "--text", "dog"]
    collection, _ = collection
    query = catalogue[1][5][0]
    assert main(["search", "--collection", str(collection.store.path), "--text", query, "--text", "-people^0.3",
                 "--fusion", "rrf", "-k", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["query"]["parts"] == [{"modality": "text", "value": query, "weight": 1.0},
                                        {"modality": "text", "value": "people", "weight": -0.3}]
    assert answer["query"]["fusion"] == "rrf" and len(answer["results"]) == 3


def test_a_collection_records_the_fusion_in_its_model_id(fused_encoder, offline_encoder):
    assert fused_encoder.model_id == f"{offline_encoder.model_id}+fusion:mean"
    assert ModelId.parse(fused_encoder.model_id) == ModelId.parse(offline_encoder.model_id).with_fusion("mean")
    reloaded = load_encoder(fused_encoder.model_id)
    assert isinstance(reloaded, FusedEncoder) and reloaded.model_id == fused_encoder.model_id


def test_a_fusion_that_needs_training_names_the_way_to_train_it(offline_encoder):
    with pytest.raises(ValueError, match="fusion 'attention' must be trained.*has no trained fusion.*fusion:"):
        with_fusion(offline_encoder, "attention")
    with pytest.raises(ValueError, match="unknown fusion 'sum'"):
        with_fusion(offline_encoder, "sum")


def test_batches_no_fusion_touched_count_no_missing_parts():
    from mmret.media.batches import EmbeddedBatch
    from mmret.pipeline.fused import missing_parts

    items = [object()] * 3
    unit = np.ones((3, 4), np.float32) / 2
    assert missing_parts(EmbeddedBatch("image", items, vectors={SHARED: unit})) == 0
    assert missing_parts(EmbeddedBatch("image", items, vectors={SHARED: unit, PART_SPACES["image"]: unit})) == 3
    both = {SHARED: unit, **{space: unit for space in PART_SPACES.values()}}
    assert missing_parts(EmbeddedBatch("image", items, vectors=both)) == 0
