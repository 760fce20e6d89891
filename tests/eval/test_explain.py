"""Explanations: shares that add up to the score (offline pack), words and image regions that carry it."""
import numpy as np
import pytest
from PIL import Image

from mmret.data.decode import read_image
from mmret.encoders.base import SHARED, Encoder, identity
from mmret.eval.explain import class_shares, explain, occlusion_map

TABLE = np.random.default_rng(1).standard_normal((256, 8)).astype(np.float32)
TABLE /= np.linalg.norm(TABLE, axis=1, keepdims=True)
# float32 rounding of a dot product of two unit vectors of 8 dimensions: a computed "zero" can be this far off
ROUNDING = 16 * float(np.finfo(np.float32).eps)


class CornerEncoder(Encoder):
    """An image is its top-left quarter's mean red; a text is the number in it (or row 0)."""

    model_id = "corner"
    modalities = ("text", "image")

    def __init__(self):
        self.spaces = {SHARED: TABLE.shape[1]}

    def preparer(self, modality):
        return self._corner_red if modality == "image" else identity

    @staticmethod
    def _corner_red(image):
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
        return round(float(pixels[: pixels.shape[0] // 2, : pixels.shape[1] // 2, 0].mean()))

    def embed_prepared(self, modality, batch):
        if modality == "image":
            return {SHARED: TABLE[list(batch)]}
        keys = [next((int(w) for w in text.split() if w.isdigit()), 0) for text in batch]
        return {SHARED: TABLE[keys]}


@pytest.fixture
def corner_image(tmp_path):
    pixels = np.zeros((70, 70, 3), np.uint8)
    pixels[:, :, 0] = 20
    pixels[:35, :35, 0] = 200
    path = tmp_path / "corner.png"
    Image.fromarray(pixels).save(path)
    return path


def test_occlusion_marks_exactly_the_region_the_encoder_looks_at(corner_image):
    encoder = CornerEncoder()
    heat = occlusion_map(encoder, read_image(corner_image), TABLE[200], grid=7)
    assert heat.shape == (7, 7)
    assert (heat[:3, :3] > 0.1).all()  # hiding the red corner loses the match
    # the rest of the image never mattered: zero to within float32 rounding of a unit score
    assert np.abs(heat[4:, :]).max() <= ROUNDING and np.abs(heat[:, 4:]).max() <= ROUNDING


def test_the_word_that_carries_the_match_gets_the_share(corner_image):
    explanation = explain(CornerEncoder(), "a red corner 200 here", corner_image)
    assert explanation.score == pytest.approx(1.0)
    shares = {w.word: w.share for w in explanation.words}
    assert shares["200"] == pytest.approx(1 - TABLE[0] @ TABLE[200], abs=1e-6)
    others = [share for word, share in shares.items() if word != "200"]
    assert max(abs(share) for share in others) <= ROUNDING * explanation.score  # float32 rounding, not a share
    assert explanation.classes == []  # no class bridge: a heat map instead
    assert explanation.heatmap is not None and explanation.heatmap.shape == (7, 7)
    assert set(explanation.to_dict()) == {"text", "image", "score", "words", "classes", "heatmap"}


def test_heat_map_png(corner_image, tmp_path):
    explanation = explain(CornerEncoder(), "200", corner_image)
    path = explanation.save_heatmap(tmp_path / "heat.png")
    assert Image.open(path).size[0] > 100
    without = explain(CornerEncoder(), "200", corner_image, heatmap=False)
    with pytest.raises(ValueError, match="no heat map"):
        without.save_heatmap(tmp_path / "none.png")


def test_offline_class_shares_add_up_to_the_score(offline_encoder, data_dir):
    image = data_dir / "flickr8k-500" / "images"
    path = min(image.iterdir())
    text = "a dog runs on the grass"
    explanation = explain(offline_encoder, text, path, heatmap=False)
    prepared = offline_encoder.preparer("image")(read_image(path))
    every_class = class_shares(offline_encoder, prepared, offline_encoder.encode("text", [text])[0])
    assert sum(c.share for c in every_class) == pytest.approx(explanation.score, abs=1e-4)
    assert len(explanation.classes) == 5 and explanation.classes[0].share >= explanation.classes[-1].share
    assert all(0 <= c.probability <= 1 and c.weight > 0 for c in every_class)
    assert [w.word for w in explanation.words] == text.split()
