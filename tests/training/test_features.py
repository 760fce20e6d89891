"""The feature cache: computed once per (tower, content, view), reused across runs and renames, recomputed when
a file changes; augmented views are reproducible; an undecodable image is reported, not fatal."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmret.data.items import Item
from mmret.training.augment import ImageAugment, WordDropout
from mmret.training.features import image_features, text_features


class CountingTowers:
    """Stand-in towers: an image's feature is its mean colour, a text's its length; calls are counted."""

    image_dim, text_dim = 3, 1

    def __init__(self):
        self.images_seen = 0
        self.texts_seen = 0

    def key(self, modality: str) -> str:
        return f"counting-{modality}"

    def preparer(self):
        return lambda image: np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32).transpose(2, 0, 1)

    def image_features(self, prepared: np.ndarray) -> np.ndarray:
        self.images_seen += len(prepared)
        return prepared.mean(axis=(2, 3))

    def text_features(self, texts: list[str]) -> np.ndarray:
        self.texts_seen += len(texts)
        return np.array([[len(t)] for t in texts], dtype=np.float32)


@pytest.fixture
def images(tmp_path):
    items = []
    for index, colour in enumerate(["red", "green", "blue"]):
        path = tmp_path / f"{index}.png"
        Image.new("RGB", (40, 30), colour).save(path)
        items.append(Item(path.name, "image", path=str(path)))
    return items


def test_image_features_are_cached_by_content(images, tmp_path):
    towers, augment, cache = CountingTowers(), ImageAugment(size=32), tmp_path / "cache"
    features, failed = image_features(towers, images, 3, augment, cache)
    assert failed == [] and features.shape == (3, 3, 3) and towers.images_seen == 9
    assert np.allclose(features[0, 0], [255, 0, 0])
    again, _ = image_features(CountingTowers(), images, 3, augment, cache)
    assert np.array_equal(again, features)
    renamed = images[0].path.replace("0.png", "renamed.png")
    Image.open(images[0].path).save(renamed)
    moved = CountingTowers()
    image_features(moved, [Item("renamed", "image", path=renamed)], 3, augment, cache)
    assert moved.images_seen == 0
    Image.new("RGB", (40, 30), "white").save(images[1].path)
    changed = CountingTowers()
    features, _ = image_features(changed, images, 3, augment, cache)
    assert changed.images_seen == 3 and np.allclose(features[1, 0], [255, 255, 255])


def test_augmented_views_are_reproducible_and_keyed_by_the_augmentation(tmp_path):
    path = tmp_path / "gradient.png"
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    Image.fromarray(np.stack([ramp, ramp[:, ::-1], ramp // 2], axis=2)).save(path)
    item = [Item("g", "image", path=str(path))]
    augment = ImageAugment(size=32, crop_scale=(0.2, 0.5))
    first, _ = image_features(CountingTowers(), item, 4, augment, tmp_path / "a")
    second, _ = image_features(CountingTowers(), item, 4, augment, tmp_path / "b")
    assert np.array_equal(first, second)  # the same draws without any cache
    assert len({tuple(np.round(v, 3)) for v in first[0]}) == 4  # the views differ
    other = CountingTowers()
    image_features(other, item, 4, ImageAugment(size=32, crop_scale=(0.6, 1.0)), tmp_path / "a")
    assert other.images_seen == 3  # the clean view is shared, the augmented ones are not


def test_an_undecodable_image_is_reported(images, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    features, failed = image_features(CountingTowers(), [*images, Item("b", "image", path=str(broken))], 2,
                                      ImageAugment(size=32), tmp_path / "cache")
    assert failed == [3] and not features[3].any() and features[:3].any(axis=2).all()


def test_text_features_cached_per_view_with_word_dropout(tmp_path):
    texts = ["a dog runs on the beach", "two cats", "a dog runs on the beach"]
    towers = CountingTowers()
    features = text_features(towers, texts, 3, WordDropout(0.5), tmp_path)
    assert features.shape == (3, 3, 1) and features[0, 0, 0] == len(texts[0])
    assert np.array_equal(features[0], features[2])  # same text, same views
    assert (features[0, 1:, 0] <= len(texts[0])).all()
    again = CountingTowers()
    assert np.array_equal(text_features(again, texts, 3, WordDropout(0.5), tmp_path), features)
    assert again.texts_seen == 0
