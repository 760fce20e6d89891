"""A file that changes or vanishes while it is being indexed (a watched folder's everyday case): the run neither
fails nor stores the new size and mtime beside the old content; the next run finds it changed, or gone."""
import pytest
from PIL import Image

from mmret import Collection


@pytest.fixture
def during_embedding(offline_encoder, monkeypatch):
    """during_embedding(action): run `action()` once, the first time the encoder embeds a batch."""
    inner = offline_encoder.embed_prepared
    pending = []

    def embed_prepared(modality, batch):
        while pending:
            pending.pop()()
        return inner(modality, batch)

    monkeypatch.setattr(offline_encoder, "embed_prepared", embed_prepared)
    return pending.append


def test_a_photo_changed_during_its_embedding_is_embedded_again_next_run(tmp_path, data_dir, offline_encoder,
                                                                         during_embedding):
    octopus, strawberry = (min((data_dir / "caltech101" / "images" / name).glob("*.jpg"))
                           for name in ("octopus", "strawberry"))
    photo = tmp_path / "photos" / "photo.jpg"
    photo.parent.mkdir()
    photo.write_bytes(octopus.read_bytes())
    during_embedding(lambda: photo.write_bytes(strawberry.read_bytes()))  # after the mapper read the octopus
    photos = Collection.open(tmp_path / "c", offline_encoder)
    assert photos.add([photo.parent]).added == 1
    again = photos.add([photo.parent])
    assert (again.updated, again.unchanged) == (1, 0)
    stored, expected = photos.vectors_of([str(photo)])[str(photo)], offline_encoder.encode("image", [Image.open(strawberry)])
    assert float(stored @ expected[0]) > 0.999


def test_a_file_deleted_during_the_run_does_not_fail_it_and_goes_at_the_next_sync(tmp_path, offline_encoder,
                                                                                 during_embedding):
    folder = tmp_path / "notes"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.txt").write_text(f"note {name}")
    during_embedding(lambda: (folder / "b.txt").unlink())
    notes = Collection.open(tmp_path / "c", offline_encoder)
    assert notes.add([folder], sync=True).added == 3
    assert notes.add([folder], sync=True).removed == 1
    assert sorted(r.path for r in notes.store.records()) == [str(folder / "a.txt"), str(folder / "c.txt")]
