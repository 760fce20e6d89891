"""The server searches through a collection's stored path fusion (mmret.query.path_fusion) as the API does."""
from __future__ import annotations

import pytest

from mmret.api import Collection

from .conftest import ColourEncoder


def test_server_scores_are_the_fused_ones_once_the_collection_is_calibrated(writable):
    client, folder, _ = writable
    semantic = {"q": "red", "k": 3, "mode": "semantic"}  # path fusion is of vector scores (items have words too)
    raw = client.get("/api/search", params=semantic).json()["results"]
    collection = Collection.open(folder, model=ColourEncoder())
    fusion = collection.calibrate({"item": ["red", "green", "blue", "a grey thing"]})
    fused = client.get("/api/search", params=semantic).json()["results"]
    api = collection.search(text="red", k=3, mode="semantic")
    assert [r["id"] for r in fused] == [h.record.item_id for h in api]
    assert [r["score"] for r in fused] == pytest.approx([h.score for h in api], abs=1e-5)
    assert fused[0]["score"] != pytest.approx(raw[0]["score"], abs=1e-3)
    calibration = fusion.calibrations["item"]  # one path: the fused score is its calibrated score
    assert [r["score"] for r in fused] == pytest.approx([(r["score"] - calibration.mean) / calibration.std
                                                         for r in raw], abs=1e-4)
