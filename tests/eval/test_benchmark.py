import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmret.data.datasets import captions, folders
from mmret.data.decode import load_rgb
from mmret.encoders.base import SHARED, Encoder, identity
from mmret.eval.benchmark import REPORTED_METRICS, evaluate, format_table

N_IMAGES = 40
CAPTIONS_PER_IMAGE = 5
CLASS_SIZE = 5
# random unit vectors: a fake encoder maps every input to one of these rows
TABLE = np.random.default_rng(0).standard_normal((1000, 32)).astype(np.float32)
TABLE /= np.linalg.norm(TABLE, axis=1, keepdims=True)


def mean_colour(image):
    return np.asarray(load_rgb(image), dtype=np.float32).reshape(-1, 3).mean(axis=0)


def red(colour):  # the test images carry their index in the red channel
    return round(float(colour[0]))


def green(colour):  # ... and their class in the green channel
    return round(float(colour[1]))


def first_number(text):
    return int(re.search(r"\d+", text).group())


def hashed(value):
    return int(hashlib.sha256(repr(value).encode()).hexdigest(), 16) % len(TABLE)


class FakeEncoder(Encoder):
    """Each image space looks an image's vector up by a key of its mean colour; texts by a key of the text."""

    model_id = "fake"
    modalities = ("text", "image")

    def __init__(self, image_keys, text_key):
        self.image_keys, self.text_key = image_keys, text_key
        self.spaces = {space: TABLE.shape[1] for space in image_keys}

    def preparer(self, modality):
        return mean_colour if modality == "image" else identity

    def embed_prepared(self, modality, batch):
        if modality == "text":
            return {SHARED: TABLE[[self.text_key(t) for t in batch]]}
        return {space: TABLE[[key(c) for c in batch]] for space, key in self.image_keys.items()}

    def spaces_for(self, modality):
        return tuple(self.image_keys) if modality == "image" else (SHARED,)


def write_png(path: Path, colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)


@pytest.fixture
def captions_dir(tmp_path):
    records = []
    for i in range(N_IMAGES):
        write_png(tmp_path / f"images/{i:03d}.png", (i, 0, 0))
        records.append({"image": f"images/{i:03d}.png",
                        "captions": [f"photo {i}, caption {j}" for j in range(CAPTIONS_PER_IMAGE)]})
    (tmp_path / "captions.json").write_text(json.dumps(records))
    return tmp_path


@pytest.fixture
def folders_dir(tmp_path):
    """Four classes of CLASS_SIZE images and one class with a single image."""
    index = 0
    for label, size in enumerate([CLASS_SIZE] * 4 + [1]):
        for n in range(size):
            write_png(tmp_path / f"kind_{label}" / f"{n}.png", (index, label, 0))
            index += 1
    return tmp_path


def run(encoder, dataset):
    return evaluate(encoder, dataset, batch_size=8, workers=0, progress=False)


def test_captions_result_shape(captions_dir):
    result = run(FakeEncoder({SHARED: red}, first_number), captions(captions_dir))
    assert json.loads(json.dumps(result)) == result
    assert set(result) == {"dataset", "model", "n_items", "n_queries", "unanswerable_queries", "spaces",
                           "failures", "seconds", "results"}
    assert (result["dataset"], result["model"]) == (captions_dir.name, "fake")
    assert result["n_items"] == {"image": N_IMAGES, "text": N_IMAGES * CAPTIONS_PER_IMAGE}
    assert result["n_queries"] == {"text->image": N_IMAGES * CAPTIONS_PER_IMAGE, "image->text": N_IMAGES}
    assert result["spaces"] == {"text->image": SHARED, "image->text": SHARED}
    assert result["failures"] == {"count": 0, "examples": []}
    assert all(list(values) == list(REPORTED_METRICS) for values in result["results"].values())


def test_an_encoder_mapping_images_and_their_captions_together_is_perfect(captions_dir):
    result = run(FakeEncoder({SHARED: red}, first_number), captions(captions_dir))
    for task in ("text->image", "image->text"):
        assert {m: result["results"][task][m] for m in ("R@1", "R@5", "R@10", "mAP", "MRR")} == pytest.approx(
            {"R@1": 1, "R@5": 1, "R@10": 1, "mAP": 1, "MRR": 1}), task
    assert result["results"]["image->text"]["P@10"] == pytest.approx(CAPTIONS_PER_IMAGE / 10)


def test_an_encoder_ignoring_the_content_scores_at_chance(captions_dir):
    result = run(FakeEncoder({SHARED: red}, hashed), captions(captions_dir))["results"]["text->image"]
    # one relevant image among N: E[R@K] = K / N, E[AP] = E[1 / rank] = H_N / N
    assert result["R@1"] == pytest.approx(1 / N_IMAGES, abs=0.04)
    assert result["R@10"] == pytest.approx(10 / N_IMAGES, abs=0.1)
    assert result["mAP"] == pytest.approx(sum(1 / r for r in range(1, N_IMAGES + 1)) / N_IMAGES, abs=0.05)


def test_images_that_fail_to_decode_are_reported_and_excluded(captions_dir):
    (captions_dir / "images/003.png").write_bytes(b"not a png")
    result = run(FakeEncoder({SHARED: red}, first_number), captions(captions_dir))
    assert result["failures"]["count"] == 1
    assert result["failures"]["examples"][0]["id"] == "images/003.png"
    assert result["n_items"]["image"] == N_IMAGES - 1
    assert result["n_queries"] == {"text->image": (N_IMAGES - 1) * CAPTIONS_PER_IMAGE, "image->text": N_IMAGES - 1}
    assert result["unanswerable_queries"]["text->image"] == CAPTIONS_PER_IMAGE  # the broken image's captions
    assert result["results"]["text->image"]["mAP"] == pytest.approx(1)
    assert "images/003.png" in format_table(result)


def test_folders_exclude_the_query_from_its_own_image_results(folders_dir):
    result = run(FakeEncoder({SHARED: green}, first_number), folders(folders_dir))
    same_image = result["results"]["image->image"]
    assert same_image["mAP"] == pytest.approx(1) and same_image["R@1"] == pytest.approx(1)
    assert same_image["P@10"] == pytest.approx((CLASS_SIZE - 1) / 10)  # the other members, not the query
    assert result["unanswerable_queries"] == {"image->image": 1, "text->image": 0}  # the single-image class
    assert result["n_queries"] == {"image->image": 4 * CLASS_SIZE, "text->image": 5}
    assert result["results"]["text->image"]["mAP"] == pytest.approx(1)


def test_random_image_vectors_do_not_find_the_query_itself(folders_dir):
    image_to_image = run(FakeEncoder({SHARED: hashed}, first_number), folders(folders_dir))["results"]["image->image"]
    assert image_to_image["R@1"] < 0.5  # would be 1 if each image could retrieve itself


def test_image_to_image_uses_the_image_space_when_the_encoder_has_one(folders_dir):
    encoder = FakeEncoder({SHARED: hashed, "image": green}, first_number)
    result = run(encoder, folders(folders_dir))
    assert result["spaces"] == {"image->image": "image", "text->image": SHARED}
    assert result["results"]["image->image"]["mAP"] == pytest.approx(1)  # shared image vectors are random


def test_format_table_lists_every_task_and_metric(folders_dir):
    table = format_table(run(FakeEncoder({SHARED: green}, first_number), folders(folders_dir)))
    lines = table.splitlines()
    assert folders_dir.name in lines[0] and "fake" in lines[0]
    assert all(metric in lines[1] for metric in REPORTED_METRICS)
    assert lines[2].startswith("image->image") and lines[3].startswith("text->image")
    assert "left out, no relevant item: image->image 1" in table


def test_an_encoder_without_images_is_refused(captions_dir):
    encoder = FakeEncoder({SHARED: red}, first_number)
    encoder.modalities = ("text",)
    with pytest.raises(ValueError, match="does not embed"):
        run(encoder, captions(captions_dir))


def test_a_dataset_whose_images_all_fail_is_refused(captions_dir):
    for png in (captions_dir / "images").iterdir():
        png.write_bytes(b"broken")
    with pytest.raises(ValueError, match="no image could be decoded"):
        run(FakeEncoder({SHARED: red}, first_number), captions(captions_dir))


def test_unanswerable_tasks_report_nan_rather_than_fail(tmp_path):
    write_png(tmp_path / "kind_0" / "0.png", (0, 0, 0))
    result = run(FakeEncoder({SHARED: green}, first_number), folders(tmp_path))
    assert math.isnan(result["results"]["image->image"]["mAP"])
