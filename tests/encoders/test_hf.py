"""HFEncoder against transformers itself, on tiny random CLIP / SigLIP / ChineseCLIP models saved to disk
and loaded back through the same from_pretrained path a hub id takes."""
from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import (
    AutoImageProcessor,
    BertConfig,
    BertTokenizer,
    ChineseCLIPConfig,
    ChineseCLIPImageProcessorPil,
    ChineseCLIPModel,
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPTokenizer,
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipImageProcessorPil,
    SiglipModel,
)

from mmret.data.decode import open_image
from mmret.encoders import hf
from mmret.encoders.hf import HFEncoder, image_preparer_from, is_hf_model_dir
from mmret.encoders.precision import bf16_supported, min_cosine

MAX_TEXT = 16
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
VISION = dict(TOWER, image_size=32, patch_size=8)
TEXTS = ["a dog runs on the grass", "two cats", "a very long sentence about a dog and a cat that goes on and on",
         "一只狗"]


@dataclass
class TinyModel:
    path: Path
    model: torch.nn.Module  # the in-memory original, the oracle
    tokenizer: object
    processor: object
    padding: bool | str
    dim: int


def _clip_tokenizer() -> CLIPTokenizer:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(letters) + [c + "</w>" for c in letters] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=MAX_TEXT)


def _word_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the test texts' words but one, so that <unk> occurs too."""
    words = ["<pad>", "<unk>", "</s>"] + sorted({w for text in TEXTS for w in text.split()} - {"cats"})
    backend = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>",
                                   eos_token="</s>", model_max_length=64)


def _bert_tokenizer() -> BertTokenizer:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "一", "只", "狗", "猫"]
    words += sorted({w for text in TEXTS[:-1] for w in text.split()})
    return BertTokenizer(vocab={w: i for i, w in enumerate(words)}, model_max_length=MAX_TEXT)


def _build(kind: str, root: Path) -> TinyModel:
    torch.manual_seed(0)
    if kind == "clip":
        tokenizer = _clip_tokenizer()
        specials = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                    "pad_token_id": tokenizer.pad_token_id}
        config = CLIPConfig(text_config=dict(TOWER, vocab_size=len(tokenizer), max_position_embeddings=MAX_TEXT,
                                             **specials), vision_config=VISION, projection_dim=24)
        model, padding, dim = CLIPModel(config), True, 24
        processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    elif kind == "siglip":
        tokenizer = _word_tokenizer()
        config = SiglipConfig(text_config=dict(TOWER, vocab_size=len(tokenizer), max_position_embeddings=MAX_TEXT,
                                               pad_token_id=0, eos_token_id=2), vision_config=VISION)
        model, padding, dim = SiglipModel(config), "max_length", 32
        processor = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    else:
        tokenizer = _bert_tokenizer()
        config = ChineseCLIPConfig(text_config=dict(TOWER, vocab_size=len(tokenizer), max_position_embeddings=MAX_TEXT),
                                   vision_config=VISION, projection_dim=24)
        model, padding, dim = ChineseCLIPModel(config), True, 24
        processor = ChineseCLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    path = root / kind
    for part in (model, tokenizer, processor):
        part.save_pretrained(path)
    return TinyModel(path, model.eval(), tokenizer, processor, padding, dim)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, TinyModel]:
    root = tmp_path_factory.mktemp("hf-models")
    return {kind: _build(kind, root) for kind in ("clip", "siglip", "chinese_clip")}


@pytest.fixture(scope="module")
def fp32_encoders(tiny) -> dict[str, HFEncoder]:
    return {kind: HFEncoder(str(m.path), precision="fp32") for kind, m in tiny.items()}


def _images() -> list[Image.Image]:
    """Noise images of assorted shapes (portrait, landscape, square, smaller than the model input)."""
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in
            [(45, 60), (80, 33), (32, 32), (20, 50), (64, 97)]]


def _oracle(output) -> np.ndarray:
    features = output if isinstance(output, torch.Tensor) else output.pooler_output
    return torch.nn.functional.normalize(features, dim=-1).numpy()


@pytest.mark.parametrize("kind", ["clip", "siglip", "chinese_clip"])
def test_text_embeddings_equal_transformers(tiny, fp32_encoders, kind):
    m = tiny[kind]
    inputs = m.tokenizer(TEXTS, padding=m.padding, truncation=True, max_length=MAX_TEXT, return_tensors="pt")
    with torch.no_grad():
        expected = _oracle(m.model.get_text_features(**inputs))
    got = fp32_encoders[kind].encode("text", TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), m.dim)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("kind", ["clip", "siglip", "chinese_clip"])
def test_image_embeddings_equal_transformers_processor_and_model(tiny, fp32_encoders, kind):
    m = tiny[kind]
    pixel_values = m.processor(_images(), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = _oracle(m.model.get_image_features(pixel_values=pixel_values))
    got = fp32_encoders[kind].encode("image", _images())
    assert got.dtype == np.float32 and got.shape == (len(_images()), m.dim)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("settings", [
    {"cls": CLIPImageProcessorPil, "size": {"shortest_edge": 24}, "crop_size": {"height": 21, "width": 21}},
    {"cls": CLIPImageProcessorPil, "size": {"shortest_edge": 24}, "crop_size": {"height": 30, "width": 27}},  # pads
    {"cls": SiglipImageProcessorPil, "size": {"height": 28, "width": 36}, "resample": 2},
    {"cls": CLIPImageProcessorPil, "size": {"shortest_edge": 24}, "do_center_crop": False, "do_normalize": False},
    {"cls": ChineseCLIPImageProcessorPil, "size": {"height": 24, "width": 24}, "do_center_crop": False,
     "rescale_factor": 1 / 127.5, "image_mean": [1.0, 1.0, 1.0], "image_std": [1.0, 1.0, 1.0]},
])
def test_preparer_reproduces_processor_pixels(settings):
    settings = dict(settings)
    processor = settings.pop("cls")(**settings)
    prepare = image_preparer_from(processor)
    for image in _images():
        expected = processor(image, return_tensors="np")["pixel_values"][0]
        got = prepare(image)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_legacy_clip_preprocessor_config_is_read(tmp_path):
    """openai/clip-vit-base-patch32's preprocessor_config.json: the old feature-extractor format with int sizes."""
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}))
    prepare = image_preparer_from(AutoImageProcessor.from_pretrained(tmp_path, backend="pil"))
    assert (prepare.shortest_edge, prepare.resize_to, prepare.crop) == (224, None, (224, 224))
    assert prepare.resample == Image.Resampling.BICUBIC and prepare.rescale_factor == pytest.approx(1 / 255)
    assert prepare.mean == (0.48145466, 0.4578275, 0.40821073)


def test_long_batches_run_in_chunks_with_the_same_result(fp32_encoders, monkeypatch):
    encoder = fp32_encoders["clip"]
    whole = encoder.encode("image", _images())
    monkeypatch.setattr(hf, "CHUNK", 2)
    np.testing.assert_allclose(encoder.encode("image", _images()), whole, atol=1e-6)


def test_preparer_pickles_and_runs_the_same(fp32_encoders):
    prepare = fp32_encoders["clip"].preparer("image")
    clone = pickle.loads(pickle.dumps(prepare))
    assert clone == prepare
    np.testing.assert_array_equal(clone(_images()[0]), prepare(_images()[0]))


def test_big_jpeg_is_decoded_small_and_still_agrees(tiny, fp32_encoders):
    y, x = np.mgrid[0:1200, 0:1600]
    photo = np.stack([x * 255 // 1600, y * 255 // 1200, (x + y) % 256], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    lazy = open_image(data, "photo.jpg")
    encoder = fp32_encoders["clip"]
    got = encoder.embed_prepared("image", encoder.collate("image", [encoder.preparer("image")(lazy)]))["shared"]
    assert min(lazy.size) < 1200 and min(lazy.size) >= 2 * 32  # drafted, with a 2x margin over the resize
    full = Image.open(io.BytesIO(data)).convert("RGB")
    pixel_values = tiny["clip"].processor(full, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        expected = _oracle(tiny["clip"].model.get_image_features(pixel_values=pixel_values))
    assert min_cosine(got, expected) >= 0.999


def test_bf16_agrees_with_fp32(tiny, fp32_encoders):
    encoder = HFEncoder(str(tiny["clip"].path), precision="bf16")
    assert encoder.dtype == (torch.bfloat16 if bf16_supported() else torch.float32)
    for modality, raw in (("text", TEXTS), ("image", _images())):
        vectors = encoder.encode(modality, raw)
        assert vectors.dtype == np.float32
        assert min_cosine(vectors, fp32_encoders["clip"].encode(modality, raw)) >= 0.99


def test_api_shape(tiny, fp32_encoders):
    encoder = fp32_encoders["siglip"]
    assert encoder.model_id == str(tiny["siglip"].path.resolve())
    assert encoder.modalities == ("text", "image") and encoder.spaces == {"shared": 32}
    assert encoder.encode("text", []).shape == (0, 32)


def test_missing_directory_is_a_clear_error():
    with pytest.raises(ValueError, match="model directory '/no/such/model' does not exist"):
        HFEncoder("/no/such/model")


def test_unknown_hub_id_offline_names_the_id(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match=r"'nosuch-org/nosuch-model' is not a local directory.*offline"):
        HFEncoder("nosuch-org/nosuch-model")


def test_unsupported_model_type_names_it_and_the_supported(tmp_path):
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="model_type 'bert'; HFEncoder supports chinese_clip, clip, siglip"):
        HFEncoder(str(tmp_path))


def test_is_hf_model_dir(tiny, tmp_path):
    assert all(is_hf_model_dir(m.path) for m in tiny.values())
    BertConfig().save_pretrained(tmp_path / "bert")
    (tmp_path / "empty").mkdir()
    assert not is_hf_model_dir(tmp_path / "bert")
    assert not is_hf_model_dir(tmp_path / "empty")
    assert not is_hf_model_dir(tiny["clip"].path / "config.json")
