"""Renamed and moved files keep their stored vectors under `add(sync=True)` (pipeline/moves.py): nothing is embedded
again, the old record goes in the same commit, and a file whose content changed on the way is embedded anew."""
import shutil

import numpy as np

from mmret import Collection


def _octopuses(data_dir):
    return sorted((data_dir / "caltech101" / "images" / "octopus").glob("*.jpg"))


def _folder(tmp_path, data_dir):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for image in _octopuses(data_dir)[:3]:
        shutil.copy(image, folder)
    (folder / "note.txt").write_text("an octopus in the sea")
    return folder


def test_renames_and_moves_keep_vectors_without_embedding(tmp_path, data_dir, offline_encoder, embedded):
    folder = _folder(tmp_path, data_dir)
    photos = Collection.open(tmp_path / "c", offline_encoder)
    assert photos.add([folder]).added == 4
    first, second, third = sorted(folder.glob("*.jpg"))
    before = photos.vectors_of([str(first), str(folder / "note.txt")])
    embedded.count = 0

    first.rename(folder / "sub" / "moved.jpg")
    (folder / "note.txt").rename(folder / "renamed.md")
    second.write_bytes(_octopuses(data_dir)[3].read_bytes())  # same path, new content: embedded again
    report = photos.add([folder], sync=True)

    assert (report.moved, report.added, report.updated, report.removed) == (2, 0, 1, 0)
    assert embedded.count == 1
    store = photos.store
    assert sorted(r.path for r in store.records()) == sorted(
        str(p) for p in (folder / "sub" / "moved.jpg", folder / "renamed.md", second, third))
    after = photos.vectors_of([str(folder / "sub" / "moved.jpg"), str(folder / "renamed.md")])
    assert np.array_equal(after[str(folder / "sub" / "moved.jpg")], before[str(first)])
    assert np.array_equal(after[str(folder / "renamed.md")], before[str(folder / "note.txt")])
    assert store.get(str(folder / "sub" / "moved.jpg")).metadata == {"folder": "sub"}


def test_a_moved_file_with_new_content_is_embedded_and_without_sync_nothing_moves(tmp_path, data_dir,
                                                                                 offline_encoder, embedded):
    folder = _folder(tmp_path, data_dir)
    photos = Collection.open(tmp_path / "c", offline_encoder)
    photos.add([folder])
    first, second, _ = sorted(folder.glob("*.jpg"))
    embedded.count = 0

    first.rename(folder / "a-copy.jpg")
    unsynced = photos.add([folder])
    assert (unsynced.moved, unsynced.added, unsynced.gone) == (0, 1, 1)
    assert unsynced.copied == 1 and embedded.count == 0  # the old record stays: the new path is a copy of it

    (folder / "note.txt").rename(folder / "note2.txt")
    (folder / "note2.txt").write_text("a different note")
    second.unlink()
    synced = photos.add([folder], sync=True)
    assert (synced.moved, synced.added, synced.removed) == (0, 1, 3)  # the old photo, note.txt, the deleted photo
    assert len(photos) == 3
