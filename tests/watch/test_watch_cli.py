"""`mmret watch` as a user runs it (a real process on real photos and text files): the catch-up scan at start,
then creations, changes, deletions, renames and bursts reflected within seconds; SIGTERM stops it cleanly."""
import shutil
import signal

import numpy as np
import pytest

from mmret.index.backend import open_collection

from .watching import Watcher, files_of, in_step, mmret, stored, until


@pytest.fixture
def photos(data_dir):
    return sorted((data_dir / "caltech101" / "images").glob("*/*.jpg"))[::40][:25]


def _vector(collection, path):
    store = open_collection(collection)
    try:
        return store.vectors_of([str(path)], "shared")[str(path)]
    finally:
        store.close()


def test_watch_follows_the_folder_and_catches_up_on_start(tmp_path, photos):
    folder, collection, log = tmp_path / "library", tmp_path / "c", tmp_path / "watch.log"
    (folder / "notes").mkdir(parents=True)
    shutil.copy(photos[0], folder / "first.jpg")
    (folder / "notes" / "sea.txt").write_text("an octopus in the sea")
    assert mmret("index", folder, "--collection", collection).returncode == 0
    (folder / "notes" / "sea.txt").write_text("a red strawberry")  # changed while no watcher runs
    shutil.copy(photos[1], folder / "second.jpg")
    (folder / "skip.xyz").write_text("not an item")

    watcher = Watcher(folder, collection, log)
    try:
        assert {r.path: r.text for r in stored(collection) if r.modality == "text"} == {
            str(folder / "notes" / "sea.txt"): "a red strawberry"}  # caught up before it says it is watching
        assert sorted(r.path for r in stored(collection)) == [p for p in files_of(folder) if not p.endswith(".xyz")]
        assert "skipped" in log.read_text() and "skip.xyz" in log.read_text()

        shutil.copy(photos[2], folder / "third.jpg")  # create
        (folder / "notes" / "sea.txt").write_text("a cat on a sofa")  # modify: embedded again
        (folder / "second.jpg").unlink()  # delete
        (folder / "skip.xyz").unlink()
        assert until(lambda: in_step(folder, collection), 60), log.read_text()
        texts = {r.text for r in stored(collection) if r.modality == "text"}
        assert texts == {"a cat on a sofa"}

        before = _vector(collection, folder / "first.jpg")
        (folder / "first.jpg").rename(folder / "notes" / "renamed.jpg")  # rename and move
        assert until(lambda: in_step(folder, collection), 60), log.read_text()
        assert np.array_equal(_vector(collection, folder / "notes" / "renamed.jpg"), before)
        assert "changes: 0 added, 0 updated, 2 unchanged, 0 removed, 1 moved" in log.read_text()  # not embedded

        for number, photo in enumerate(photos[3:23]):  # a burst of copies
            shutil.copy(photo, folder / f"copy-{number}.jpg")
        assert until(lambda: in_step(folder, collection), 120), log.read_text()
        assert log.read_text().count("skip.xyz") == 1  # each skip told once, not at every rescan
    finally:
        code = watcher.stop(signal.SIGTERM)
    assert code == 143 and "terminated: committed work is kept" in log.read_text()
    records = stored(collection)
    assert len(records) == len({r.item_id for r in records}) == len(files_of(folder)) == 23


def test_a_missing_or_file_folder_is_a_clear_error(tmp_path):
    missing = mmret("watch", tmp_path / "nowhere", "--collection", tmp_path / "c")
    assert missing.returncode == 2 and "nowhere: no such folder to watch" in missing.stderr
    (tmp_path / "a.txt").write_text("text")
    a_file = mmret("watch", tmp_path / "a.txt", "--collection", tmp_path / "c")
    assert a_file.returncode == 2 and "a.txt: not a folder" in a_file.stderr
    assert not (tmp_path / "c").exists()
