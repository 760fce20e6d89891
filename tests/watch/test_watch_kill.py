"""A SIGKILL of a real `mmret watch` in the middle of a burst, then changes while it is down, then a restart: the
catch-up scan converges to the folder (each file once, with its vector; nothing of deleted files left)."""
import shutil
import signal
import time

from mmret.index.backend import open_collection

from .watching import Watcher, files_of, in_step, stored


def _sound(collection) -> str | None:
    """None if every row has one vector in the shared space and ids are unique, else what is wrong."""
    store = open_collection(collection)
    try:
        records = list(store.records())
        if len({r.item_id for r in records}) != len(records):
            return "an item stored twice"
        if store.vector_count("shared") != len(records):
            return f"{store.vector_count('shared')} vectors for {len(records)} rows"
    finally:
        store.close()
    return None


def test_killed_mid_burst_then_restarted_converges_to_the_folder(tmp_path, data_dir):
    photos = sorted((data_dir / "caltech101" / "images").glob("*/*.jpg"))[::25][:80]
    names = {photo: f"{photo.parent.name}-{photo.name}" for photo in photos}  # unique across classes
    folder, collection, log = tmp_path / "library", tmp_path / "c", tmp_path / "watch.log"
    (folder / "old").mkdir(parents=True)
    for photo in photos[:10]:
        shutil.copy(photo, folder / "old" / names[photo])
    for after_burst in (1.0, 3.0):  # into the rescan's embedding; later, near its commits
        watcher = Watcher(folder, collection, log)
        assert in_step(folder, collection), log.read_text()
        start = len(list(folder.rglob("*.jpg")))
        for photo in photos[start:start + 30]:  # the burst
            shutil.copy(photo, folder / names[photo])
        for number, photo in enumerate(sorted((folder / "old").glob("*.jpg"))[:3]):
            photo.rename(folder / f"renamed-{start}-{number}.jpg")
        (folder / f"note-{start}.txt").write_text(f"a note written in burst {start}")
        min(folder.glob("*.jpg")).unlink()
        time.sleep(0.5 + after_burst)  # the quiet period, then into the rescan
        assert watcher.stop(signal.SIGKILL) == -signal.SIGKILL
        assert _sound(collection) is None

        for photo in sorted(folder.glob("renamed-*.jpg"))[:1]:  # changes while it is down
            photo.rename(folder / "old" / f"back-{photo.name}")
        (folder / f"note-{start}.txt").write_text("changed while no watcher ran")

    watcher = Watcher(folder, collection, log)  # its catch-up scan is done when it says it is watching
    try:
        assert in_step(folder, collection), (files_of(folder), sorted(r.path for r in stored(collection)))
        assert _sound(collection) is None
        assert {r.text for r in stored(collection) if r.modality == "text"} == {"changed while no watcher ran"}
    finally:
        watcher.stop()
