"""The Python API on real photos with the real offline encoder: add, incremental re-index, remove, reopen,
filter, bad files, model mismatch."""
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mmret import Collection
from mmret.demo.photos import package_data
from mmret.encoders.conse import BridgeSettings
from mmret.encoders.offline import OfflineEncoder
from mmret.index.collection import CollectionError

PHOTOS = {"cats": ["chelsea.png"], "things": ["coffee.png", "rocket.jpg", "motorcycle_left.png"], "": ["moon.png"]}


@pytest.fixture
def photo_dir(tmp_path):
    root = tmp_path / "photos"
    for folder, names in PHOTOS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(package_data("skimage", name), root / folder / name)
    return root


def stored_names(collection):
    return sorted(Path(r.path).name for r in collection.store.records())


def test_add_search_and_reopen(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    report = coll.add([photo_dir])
    assert (report.added, report.skipped) == (5, [])
    assert coll.search(text="a cat", k=1)[0].record.path.endswith("chelsea.png")
    assert coll.search(text="a rocket", k=1)[0].record.path.endswith("rocket.jpg")
    reopened = Collection.open(tmp_path / "c", offline_encoder)
    assert len(reopened) == 5
    assert reopened.search(image=photo_dir / "cats" / "chelsea.png", k=1)[0].score == pytest.approx(1.0, abs=1e-3)


def test_reindex_adds_only_new_or_changed_files(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    again = coll.add([photo_dir])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    shutil.copy(package_data("skimage", "coins.png"), photo_dir / "coins.png")
    changed = photo_dir / "things" / "coffee.png"
    Image.open(changed).rotate(90).save(changed)
    report = coll.add([photo_dir])
    assert (report.added, report.updated, report.unchanged) == (1, 1, 4)
    assert len(coll) == 6


def test_sync_and_remove(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    os.remove(photo_dir / "moon.png")
    assert coll.add([photo_dir]).removed == 0 and len(coll) == 5  # without --sync nothing is dropped
    assert coll.add([photo_dir], sync=True).removed == 1
    assert coll.remove([str(photo_dir / "things" / "rocket.jpg")]) == 1
    assert stored_names(coll) == ["chelsea.png", "coffee.png", "motorcycle_left.png"]
    assert all(not h.record.path.endswith("rocket.jpg") for h in coll.search(text="a rocket", k=10))


def test_filter_on_folder_metadata(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    hits = coll.search(text="a cat", k=10, where={"folder": "things"})
    assert sorted(Path(h.record.path).name for h in hits) == sorted(PHOTOS["things"])


def test_bad_files_are_skipped_and_nothing_partial_is_stored(tmp_path, photo_dir, offline_encoder):
    (photo_dir / "empty.jpg").touch()
    (photo_dir / "notes.png").write_text("not a picture")
    good = (photo_dir / "cats" / "chelsea.png").read_bytes()
    (photo_dir / "half.png").write_bytes(good[: len(good) // 3])
    Image.new("1", (12_000, 12_000)).save(photo_dir / "bomb.png")
    (photo_dir / "README.doc").write_text("a stray file")
    seen = []
    coll = Collection.open(tmp_path / "c", offline_encoder)
    report = coll.add([photo_dir], on_skip=seen.append)
    assert report.added == 5 and len(coll) == 5
    skipped = {Path(s.where).name: s.reason for s in report.skipped}
    assert set(skipped) == {"empty.jpg", "notes.png", "half.png", "bomb.png", "README.doc"}
    assert "empty" in skipped["empty.jpg"] and "too large" in skipped["bomb.png"]
    assert len(seen) == 5


def test_collection_refuses_another_model(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    other = OfflineEncoder(bridge=BridgeSettings(top_k=5))  # same towers, another bridge: other vectors
    with pytest.raises(CollectionError, match="never mixes models"):
        Collection.open(tmp_path / "c", other)
    assert len(Collection.open(tmp_path / "c", offline_encoder)) == 5


def test_text_and_image_query_together(tmp_path, photo_dir, offline_encoder):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    both = coll.search(text="a motorcycle", image=photo_dir / "cats" / "chelsea.png", k=2)
    assert {Path(h.record.path).name for h in both} == {"chelsea.png", "motorcycle_left.png"}


def test_remove_a_deleted_file_by_relative_path(tmp_path, photo_dir, offline_encoder, monkeypatch):
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([photo_dir])
    os.remove(photo_dir / "moon.png")
    monkeypatch.chdir(photo_dir)
    assert coll.remove(["moon.png", "no-such-id"]) == 1 and len(coll) == 4
