"""Fakes for the evaluation tests: small generated benchmarks and a keyed encoder whose quality is chosen."""
from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest
from PIL import Image

from mmret.data.datasets import captions
from mmret.data.decode import load_rgb
from mmret.encoders.base import SHARED, Encoder, identity

N_IMAGES = 30
CAPTIONS_PER_IMAGE = 2
TABLE = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
TABLE /= np.linalg.norm(TABLE, axis=1, keepdims=True)


def red(image) -> int:
    """The generated images carry their index in the red channel."""
    return round(float(np.asarray(load_rgb(image), dtype=np.float32)[..., 0].mean()))


def caption_number(text: str) -> int:
    return int(re.search(r"\d+", text).group())


def hashed(value) -> int:
    return int(hashlib.sha256(repr(value).encode()).hexdigest(), 16) % len(TABLE)


class KeyedEncoder(Encoder):
    """Images and texts map to rows of TABLE by a key: equal keys, equal vectors. `image_key` runs in the
    preparer (on the PIL image), `text_key` on the text."""

    modalities = ("text", "image")

    def __init__(self, text_key=caption_number, image_key=red, model_id="keyed"):
        self.text_key, self.image_key, self.model_id = text_key, image_key, model_id
        self.spaces = {SHARED: TABLE.shape[1]}

    def preparer(self, modality):
        return self.image_key if modality == "image" else identity

    def embed_prepared(self, modality, batch):
        keys = [self.text_key(t) for t in batch] if modality == "text" else list(batch)
        return {SHARED: TABLE[keys]}


def sometimes_wrong(rate: float):
    """A text key that is right except for a fixed pseudo-random `rate` of the captions."""
    def key(text: str) -> int:
        return hashed(text) if hashed(("wrong", text)) / len(TABLE) < rate else caption_number(text)
    return key


@pytest.fixture
def captions_dir(tmp_path):
    records = []
    for i in range(N_IMAGES):
        (tmp_path / "images").mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), (i, 90, 160)).save(tmp_path / f"images/{i:03d}.png")
        records.append({"image": f"images/{i:03d}.png",
                        "captions": [f"photo {i}, caption {j}" for j in range(CAPTIONS_PER_IMAGE)]})
    (tmp_path / "captions.json").write_text(json.dumps(records))
    return tmp_path


@pytest.fixture
def small_captions(captions_dir):
    return captions(captions_dir)


@pytest.fixture
def make_encoder():
    """make_encoder(error_rate, model_id): a KeyedEncoder that maps a caption to its own image's vector except
    for `error_rate` of the captions (0: perfect; 1: every caption lands on a random vector)."""
    def make(error_rate: float = 0.0, model_id: str = "keyed") -> KeyedEncoder:
        return KeyedEncoder(sometimes_wrong(error_rate) if error_rate else caption_number, model_id=model_id)
    return make
