"""CLAP encoder: a tiny random ClapModel saved to disk, loaded back through ClapEncoder, equal to transformers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("soundfile")
from transformers import (
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapProcessor,
    RobertaTokenizer,
)

from mmret.data.audio import Waveform, read_audio, resample
from mmret.encoders.clap import ClapEncoder

TEXTS = ["a dog barks", "rain on a roof", "a very long sentence about a clock that ticks and ticks and ticks"]
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
AUDIO = {"depths": [1, 1], "num_attention_heads": [2, 2], "patch_embeds_hidden_size": 16, "hidden_size": 32,
         "window_size": 8, "spec_size": 256, "num_mel_bins": 64}


def _tokenizer() -> RobertaTokenizer:
    letters = sorted({c for text in TEXTS for c in text if c != " "})
    words = ["<s>", "<pad>", "</s>", "<unk>"] + letters + ["\u0120" + c for c in letters]
    return RobertaTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=64)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    tokenizer = _tokenizer()
    config = ClapConfig(text_config=dict(TOWER, vocab_size=len(tokenizer), max_position_embeddings=80,
                                         pad_token_id=tokenizer.pad_token_id),
                        audio_config=AUDIO, projection_dim=24)
    model = ClapModel(config).eval()
    # an unfused model (enable_fusion=False) takes one mel channel, as laion/clap-htsat-unfused ships it
    extractor = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    processor = ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    path = tmp_path_factory.mktemp("clap") / "tiny-clap"
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path, model, processor


def _clips(seconds: tuple[float, ...]) -> list[Waveform]:
    rng = np.random.default_rng(0)
    t = [np.arange(round(8000 * s)) / 8000 for s in seconds]
    return [Waveform((0.3 * np.sin(2 * np.pi * 440 * (i + 1) * x) + 0.05 * rng.standard_normal(len(x)))
                     .astype(np.float32), 8000) for i, x in enumerate(t)]


def _oracle_audio(model, processor, clips: list[Waveform]) -> np.ndarray:
    rate = processor.feature_extractor.sampling_rate
    audio = [resample(c, rate).samples for c in clips]
    inputs = processor(audio=audio, sampling_rate=rate, return_tensors="pt")
    with torch.inference_mode():
        out = model.get_audio_features(input_features=inputs["input_features"], is_longer=inputs["is_longer"])
    return torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1).numpy()


def test_text_vectors_equal_transformers(tiny):
    path, model, processor = tiny
    encoder = ClapEncoder(str(path))
    inputs = processor(text=TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = model.get_text_features(**inputs)
    expected = torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1).numpy()
    got = encoder.encode("text", TEXTS)
    assert got.shape == (3, 24) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-6)


def test_audio_vectors_equal_transformers(tiny):
    path, model, processor = tiny
    encoder = ClapEncoder(str(path))
    clips = _clips((1.0, 2.5, 0.3))
    np.testing.assert_allclose(encoder.encode("audio", clips), _oracle_audio(model, processor, clips), atol=1e-5)
    # batching does not change a clip's vector
    np.testing.assert_allclose(encoder.encode("audio", clips[1:2]), encoder.encode("audio", clips)[1:2], atol=1e-5)


def test_long_clip_keeps_its_first_window_deterministically(tiny):
    path, model, processor = tiny
    encoder = ClapEncoder(str(path))
    (long_clip,) = _clips((12.0,))
    rate = processor.feature_extractor.sampling_rate
    head = Waveform(resample(long_clip, rate).samples[: 10 * rate], rate)
    np.testing.assert_allclose(encoder.encode("audio", [long_clip]), encoder.encode("audio", [long_clip]))
    np.testing.assert_allclose(encoder.encode("audio", [long_clip]), _oracle_audio(model, processor, [head]),
                               atol=1e-5)


def test_real_clip_and_wrong_inputs(tiny, data_dir: Path):
    path, model, processor = tiny
    encoder = ClapEncoder(str(path))
    clip = next((data_dir / "esc50").rglob("*.flac"), None)
    if clip is None:
        pytest.skip("no ESC-50 clip")
    wave = read_audio(clip)
    np.testing.assert_allclose(encoder.encode("audio", [wave]), _oracle_audio(model, processor, [wave]), atol=1e-5)
    with pytest.raises(ValueError, match="does not accept 'image'"):
        encoder.encode("image", [wave])
    assert encoder.encode("audio", []).shape == (0, 24)


def test_not_a_clap_directory(tmp_path: Path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError):
        ClapEncoder(str(tmp_path))


def test_registry_loads_a_clap_directory_as_clap(tiny, tmp_path):
    from mmret import Collection
    from mmret.models import load_encoder

    folder = tiny[0]
    encoder = load_encoder(str(folder))
    assert isinstance(encoder, ClapEncoder) and encoder.modalities == ("text", "audio")
    clips = _clips((1.0, 2.5))
    np.testing.assert_allclose(encoder.encode("audio", clips), ClapEncoder(str(folder)).encode("audio", clips),
                               atol=1e-6)
    assert Collection.open(tmp_path / "c", str(folder)).encoder.model_id == str(Path(folder).resolve())
