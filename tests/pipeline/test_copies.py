"""Copied files take the stored vectors of the file they copy (pipeline/copies.py): nothing is embedded, each copy
is its own item under its own path and folder, and a copy whose content changed is embedded."""
import shutil

import numpy as np

from mmret import Collection


def _library(tmp_path, data_dir):
    folder = tmp_path / "photos"
    folder.mkdir()
    octopuses = sorted((data_dir / "caltech101" / "images" / "octopus").glob("*.jpg"))
    for image in octopuses[:2]:
        shutil.copy(image, folder)
    (folder / "note.txt").write_text("an octopus in the sea")
    return folder, octopuses


def test_copies_of_a_photo_embed_nothing_and_are_items_of_their_own(tmp_path, data_dir, offline_encoder,
                                                                    embedded):
    folder, octopuses = _library(tmp_path, data_dir)
    photos = Collection.open(tmp_path / "c", offline_encoder)
    photos.add([folder])
    original = folder / octopuses[0].name
    embedded.count = 0

    copies = [folder / "holiday" / f"copy-{n}.jpg" for n in range(3)]
    copies[0].parent.mkdir()
    for copy in copies:
        shutil.copy(original, copy)
    shutil.copy(folder / "note.txt", folder / "holiday" / "note.txt")
    report = photos.add([folder])

    assert (report.added, report.copied, embedded.count) == (4, 4, 0)
    vectors = photos.vectors_of([str(original), *map(str, copies)])
    assert all(np.array_equal(vectors[str(copy)], vectors[str(original)]) for copy in copies)
    records = [photos.store.get(str(copy)) for copy in copies]
    assert [r.path for r in records] == [str(copy) for copy in copies]
    assert all(r.metadata == {"folder": "holiday"} and r.size == original.stat().st_size for r in records)
    assert photos.store.get(str(folder / "holiday" / "note.txt")).text == "an octopus in the sea"
    in_holiday = photos.search("octopus", k=10, where={"folder": "holiday"})
    assert sorted(hit.record.path for hit in in_holiday) == sorted(
        str(p) for p in [*copies, folder / "holiday" / "note.txt"])
    assert str(original) not in {hit.record.path for hit in in_holiday}
    assert len(photos) == 3 + 4


def test_a_changed_copy_is_embedded_and_a_file_changed_into_a_copy_is_not(tmp_path, data_dir, offline_encoder,
                                                                          embedded):
    folder, octopuses = _library(tmp_path, data_dir)
    photos = Collection.open(tmp_path / "c", offline_encoder)
    photos.add([folder])
    first, second = (folder / image.name for image in octopuses[:2])
    shutil.copy(first, folder / "copy.jpg")
    photos.add([folder])
    embedded.count = 0

    (folder / "copy.jpg").write_bytes(octopuses[5].read_bytes())  # new content: embedded
    second.write_bytes(first.read_bytes())  # now the content of a stored file: its vectors, not embedded
    report = photos.add([folder])

    assert (report.updated, report.copied, embedded.count) == (2, 1, 1)
    vectors = photos.vectors_of([str(first), str(second), str(folder / "copy.jpg")])
    assert np.array_equal(vectors[str(second)], vectors[str(first)])
    assert not np.allclose(vectors[str(folder / "copy.jpg")], vectors[str(first)])
    assert photos.store.get(str(folder / "copy.jpg")).content_hash != photos.store.get(str(first)).content_hash
