"""Faces in a video's keyframes: a slideshow of two LFW people (PyAV), indexed with faces; each face segment is
placed in its shot, and the other photo of each person finds that person's shot first."""
import shutil

import numpy as np
import pytest
from PIL import Image

from mmret import Collection
from mmret.encoders.base import SHARED, Encoder
from mmret.media.face_segments import FACE_BOX, is_face

pytest.importorskip("dlib")
av = pytest.importorskip("av")
PEOPLE = ("Adrien_Brody", "Alvaro_Uribe")


class MeanColour(Encoder):
    def __init__(self):
        self.modalities, self.spaces, self.model_id = ("image",), {SHARED: 3}, "mean-colour-test"

    def preparer(self, modality):
        return mean_colour

    def embed_prepared(self, modality, batch):
        vectors = np.asarray(batch, dtype=np.float32)
        return {SHARED: vectors / np.linalg.norm(vectors, axis=1, keepdims=True)}


def mean_colour(image):
    return np.asarray(image.convert("RGB"), dtype=np.float32).mean((0, 1)) + 1


def test_each_persons_other_photo_finds_their_shot_first(data_dir, tmp_path):
    source = data_dir / "lfw-158" / "images"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    photos = [sorted((source / person).glob("*.jpg"))[:2] for person in PEOPLE]
    video = tmp_path / "media" / "slideshow.mp4"
    video.parent.mkdir()
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 250, 250, "yuv420p"
        for first, _ in photos:
            picture = np.asarray(Image.open(first).convert("RGB"))
            for _ in range(20):  # 2 s
                container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    collection = Collection.open(tmp_path / "c", MeanColour())
    report = collection.add([video.parent], faces=True, workers=1)
    faces = [r for r in collection.store.records() if is_face(r.metadata)]
    assert report.faces == len(faces) >= 2
    assert all(len(f.metadata[FACE_BOX]) == 4 and f.metadata["end"] > f.metadata["start"] for f in faces)
    for slot, (_, other) in enumerate(photos):
        query = tmp_path / f"query{slot}.jpg"
        shutil.copy(other, query)
        best = collection.search(face=query, k=1, per_file=False)[0]
        assert best.record.metadata["start"] == pytest.approx(2.0 * slot, abs=0.5)
