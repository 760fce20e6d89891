"""Faces through the product: Collection.add(faces=True) stores each face as a segment, and search(face=...) ranks
the stored faces as dlib's own Euclidean distances rank them (real LFW photos; a tiny colour model for the photos)."""
import shutil

import numpy as np
import pytest
from PIL import Image

from mmret import Collection
from mmret.encoders.base import SHARED, Encoder
from mmret.encoders.faces import FaceDetector
from mmret.errors import BadInput
from mmret.media.face_segments import FACE_BOX, is_face
from mmret.media.face_vectors import FACE_SPACE, descriptors_of

pytest.importorskip("dlib")
PEOPLE = ("Abdullah_Gul", "Adrien_Brody", "Alejandro_Toledo", "Alvaro_Uribe")


class MeanColour(Encoder):
    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("image",), {SHARED: 3}, "mean-colour-test"

    def preparer(self, modality):
        return lambda image: np.asarray(image.convert("RGB"), dtype=np.float32).mean((0, 1)) + 1

    def embed_prepared(self, modality, batch):
        vectors = np.asarray(batch, dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


@pytest.fixture(scope="module")
def photos(data_dir, tmp_path_factory):
    source = data_dir / "lfw-158" / "images"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    folder = tmp_path_factory.mktemp("lfw")
    for person in PEOPLE:
        for path in sorted((source / person).glob("*.jpg"))[:4]:
            shutil.copy(path, folder)
    return folder.resolve()


@pytest.fixture(scope="module")
def indexed(photos, tmp_path_factory):
    collection = Collection.open(tmp_path_factory.mktemp("c") / "faces", MeanColour())
    report = collection.add([photos], faces=True, workers=0)
    return collection, report


def faces_of(collection):
    return [r for r in collection.store.records() if is_face(r.metadata)]


def test_each_face_is_a_segment_of_its_photo_with_dlibs_descriptor(indexed, photos):
    collection, report = indexed
    stored = faces_of(collection)
    assert report.faces == len(stored) >= len(list(photos.iterdir())) - 1
    vectors = collection.store.vectors_of([r.item_id for r in stored], FACE_SPACE)
    detector = FaceDetector()
    for record in stored[:6]:
        found = detector.find(Image.open(record.path))
        number = int(record.item_id.rsplit("#face", 1)[1])
        face = found.faces[number - 1]
        assert record.metadata[FACE_BOX] == list(face.box)
        np.testing.assert_allclose(descriptors_of(vectors[record.item_id])[0], face.descriptor, atol=1e-5)


def test_search_by_face_ranks_as_dlib_distances_do(indexed, photos):
    collection, _ = indexed
    stored = faces_of(collection)
    descriptors = descriptors_of(np.stack([v for v in collection.store.vectors_of(
        [r.item_id for r in stored], FACE_SPACE).values()]))
    ids = list(collection.store.vectors_of([r.item_id for r in stored], FACE_SPACE))
    query = sorted(photos.iterdir())[1]
    face = FaceDetector().find(Image.open(query)).largest()
    hits = collection.search(face=query, k=len(ids), per_file=False)
    expected = [ids[i] for i in np.argsort(np.linalg.norm(descriptors - face.descriptor, axis=1))]
    assert [hit.item_id for hit in hits] == expected
    assert hits[0].record.path == str(query) and hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_results_are_files_with_the_matching_face_box_and_the_same_person_first(indexed, photos):
    collection, _ = indexed
    query = min(photos.glob("Adrien_Brody*"))
    hits = collection.search(face=query, k=3, exclude=[str(query)])
    assert len({hit.record.metadata["segment_of"] for hit in hits}) == 3
    assert all(hit.record.path != str(query) for hit in hits)
    assert all("Adrien_Brody" in hit.record.path for hit in hits)
    assert all(len(hit.record.metadata[FACE_BOX]) == 4 for hit in hits)


def test_a_photo_without_a_face_or_a_missing_face_number_is_bad_input(indexed, tmp_path, photos):
    collection, _ = indexed
    blank = tmp_path / "sky.png"
    Image.new("RGB", (200, 200), (120, 160, 200)).save(blank)
    with pytest.raises(BadInput, match="no face found"):
        collection.search(face=blank)
    with pytest.raises(BadInput, match="has 1 faces"):
        collection.search(face=f"{min(photos.iterdir())}#3")


def test_faces_are_off_by_default_remembered_once_on_and_gone_when_turned_off(photos, tmp_path):
    plain = Collection.open(tmp_path / "plain", MeanColour())
    plain.add([photos], workers=0)
    assert FACE_SPACE not in plain.store.spaces and faces_of(plain) == []
    with pytest.raises(BadInput, match="holds no faces"):
        plain.search(face=min(photos.iterdir()))
    plain.add([photos], faces=True, workers=0)  # turned on: every photo is read again
    count = len(faces_of(plain))
    assert count >= len(list(photos.iterdir())) - 1
    extra = tmp_path / "more"
    extra.mkdir()
    shutil.copy(min(photos.iterdir()), extra / "again.jpg")
    assert plain.add([photos, extra], workers=0).faces == 1  # remembered: the new photo's face, nothing re-read
    report = plain.add([photos, extra], faces=False, workers=0)
    assert report.updated == len(list(photos.iterdir())) + 1 and faces_of(plain) == []


def test_a_copied_photo_gets_face_segments_of_its_own(photos, tmp_path):
    """Copies reuse stored vectors (pipeline/copies.py), but not while faces are on: a copy's faces are its own."""
    folder = tmp_path / "library"
    folder.mkdir()
    original = folder / "original.jpg"
    shutil.copy(min(photos.iterdir()), original)
    collection = Collection.open(tmp_path / "c", MeanColour())
    collection.add([folder], faces=True, workers=0)
    shutil.copy(original, folder / "copy.jpg")
    report = collection.add([folder], workers=0)

    faces_by_file = {}
    for record in faces_of(collection):
        faces_by_file.setdefault(record.path, []).append(record)
    assert report.copied == 0 and report.faces >= 1
    assert len(faces_by_file[str(folder / "copy.jpg")]) == len(faces_by_file[str(original)]) >= 1
