"""Augmentations keep shapes and value ranges, are reproducible from their generator, and do what they say."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmret.encoders.offline import ImagePreparer
from mmret.training.augment import (
    ImageAugment,
    WordDropout,
    color_jitter,
    random_resized_crop,
)


@pytest.fixture
def photo() -> Image.Image:
    """A 300x200 image: a horizontal colour gradient, so a flip or a crop changes it visibly."""
    ramp = np.linspace(0, 255, 300, dtype=np.float32)
    pixels = np.stack([np.tile(ramp, (200, 1)), np.full((200, 300), 80.0), np.tile(ramp[::-1], (200, 1))], axis=2)
    return Image.fromarray(pixels.astype(np.uint8))


def test_image_augment_keeps_size_mode_and_model_input_range(photo):
    augment = ImageAugment(size=224)
    for seed in range(5):
        image = augment(photo, np.random.default_rng(seed))
        assert image.size == (224, 224) and image.mode == "RGB"
        prepared = ImagePreparer()(image)
        assert prepared.shape == (3, 224, 224) and prepared.dtype == np.float32
        assert prepared.min() >= -127 / 128 and prepared.max() <= 128 / 128


def test_image_augment_is_reproducible_from_its_generator(photo):
    augment = ImageAugment()
    first = np.asarray(augment(photo, np.random.default_rng(7)))
    assert np.array_equal(first, np.asarray(augment(photo, np.random.default_rng(7))))
    assert not np.array_equal(first, np.asarray(augment(photo, np.random.default_rng(8))))


def test_full_crop_without_jitter_is_the_resized_image_or_its_mirror(photo):
    augment = ImageAugment(size=64, crop_scale=(1.0, 1.0), crop_ratio=(1.5, 1.5), color_jitter=0.0)
    whole = np.asarray(photo.resize((64, 64), Image.BICUBIC), dtype=np.int16)
    seen = set()
    for seed in range(8):
        image = np.asarray(augment(photo, np.random.default_rng(seed)), dtype=np.int16)
        flipped = np.array_equal(image, whole[:, ::-1])
        assert flipped or np.array_equal(image, whole)
        seen.add(flipped)
    assert seen == {True, False}


def test_random_resized_crop_falls_back_to_a_centred_box():
    tall = Image.new("RGB", (10, 100), "white")
    crop = random_resized_crop(tall, np.random.default_rng(0), 32, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert crop.size == (32, 32)


def test_colour_jitter_of_strength_zero_changes_nothing(photo):
    assert np.array_equal(np.asarray(color_jitter(photo, np.random.default_rng(0), 0.0)), np.asarray(photo))
    jittered = np.asarray(color_jitter(photo, np.random.default_rng(0), 0.5), dtype=np.float32)
    assert jittered.shape == (200, 300, 3) and np.abs(jittered - np.asarray(photo)).mean() > 1


def test_word_dropout_keeps_an_ordered_non_empty_subset():
    text = "a brown dog runs across the green grassy field"
    words = text.split()
    for seed in range(20):
        dropped = WordDropout(0.5)(text, np.random.default_rng(seed)).split()
        assert dropped and len(dropped) <= len(words)
        positions = [words.index(w) for w in dropped]
        assert positions == sorted(positions)
    assert WordDropout(0.0)(text, np.random.default_rng(0)) == text
    assert len(WordDropout(0.999)("two words", np.random.default_rng(0)).split()) == 1


def test_word_dropout_rate_is_about_p():
    text = " ".join(f"w{i}" for i in range(2000))
    kept = len(WordDropout(0.2)(text, np.random.default_rng(0)).split())
    assert 0.77 < kept / 2000 < 0.83
