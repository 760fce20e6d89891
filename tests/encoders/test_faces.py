"""The face detector against dlib called directly on real LFW photos: the same boxes, scores and descriptors."""
import numpy as np
import pytest
from PIL import Image

from mmret.encoders.faces import FaceDetector, model_folder

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def photos(data_dir):
    folder = data_dir / "lfw-158" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return [min(person.glob("*.jpg")) for person in sorted(folder.iterdir())[:6]]


def dlib_faces(path):
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(model_folder() / "shape_predictor_5_face_landmarks.dat"))
    model = dlib.face_recognition_model_v1(str(model_folder() / "dlib_face_recognition_resnet_model_v1.dat"))
    rgb = np.asarray(Image.open(path).convert("RGB"))
    boxes, scores, _ = detector.run(rgb, 1, 0.0)
    return [((b.left(), b.top(), b.right(), b.bottom()), s,
             np.asarray(model.compute_face_descriptor(rgb, landmarks(rgb, b)))) for b, s in zip(boxes, scores)]


def test_same_boxes_scores_and_descriptors_as_dlib(photos):
    detector = FaceDetector(min_size=0)
    for path in photos:
        ours = detector.find(Image.open(path))
        theirs = sorted(dlib_faces(path), key=lambda face: face[0][:2])
        assert ours.too_small == 0 and len(ours.faces) == len(theirs) >= 1, path
        for face, (box, score, descriptor) in zip(ours.faces, theirs):
            assert face.box == box
            assert face.score == pytest.approx(score)
            np.testing.assert_allclose(face.descriptor, descriptor, atol=1e-6)


def test_faces_smaller_than_the_minimum_are_counted_not_described(photos):
    whole = FaceDetector(min_size=0).find(Image.open(photos[0]))
    cut = max(face.size for face in whole.faces) + 1
    found = FaceDetector(min_size=cut).find(Image.open(photos[0]))
    assert found.faces == [] and found.too_small == len(whole.faces)


def test_a_picture_without_a_face_has_none():
    blank = Image.new("RGB", (200, 200), (120, 160, 200))
    assert FaceDetector().find(blank).faces == []
