"""Audio tower: the log-mel frontend against transformers' audio utilities, the tower's invariants, and training
on real ESC-50 clips moving them toward their class names."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

from mmret.data.audio import Waveform
from mmret.encoders.audio_tower import (
    AudioTower,
    AudioTowerEncoder,
    LogMel,
    TowerConfig,
    mel_filterbank,
)
from mmret.encoders.base import SHARED, Encoder, l2_normalise
from mmret.eval.metrics import Ranking, mean_metrics
from mmret.training.audio_tower_fit import TrainSettings, train_tower

SMALL = TowerConfig(channels=(8, 16), dim=12)


class FixedText(Encoder):
    """A text encoder with a fixed random vector per distinct text."""

    model_id, modalities = "fixed-text", ("text",)

    def __init__(self, dim: int):
        self.spaces, self._dim, self._known = {SHARED: dim}, dim, {}

    def embed_prepared(self, modality, batch):
        rows = [self._known.setdefault(t, np.random.default_rng(len(self._known)).standard_normal(self._dim))
                for t in batch]
        return {SHARED: l2_normalise(np.array(rows).reshape(len(rows), self._dim))}


def test_filterbank_equals_transformers_htk():
    ours = mel_filterbank(257, 64, 50.0, 8000.0, 16000)
    theirs = mel_filter_bank(num_frequency_bins=257, num_mel_filters=64, min_frequency=50.0, max_frequency=8000.0,
                             sampling_rate=16000, norm=None, mel_scale="htk")
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_power_spectrogram_and_log_mel_equal_transformers():
    config = TowerConfig()
    rng = np.random.default_rng(0)
    wave = (0.3 * np.sin(2 * np.pi * 700 * np.arange(16000) / 16000) + 0.05 * rng.standard_normal(16000))
    bank = mel_filter_bank(num_frequency_bins=257, num_mel_filters=64, min_frequency=50.0, max_frequency=8000.0,
                           sampling_rate=16000, norm=None, mel_scale="htk")
    settings = {"frame_length": 512, "hop_length": 320, "power": 2.0, "center": True, "pad_mode": "reflect"}
    power = spectrogram(wave, window_function(512, "hann"), **settings)
    mel = spectrogram(wave, window_function(512, "hann"), mel_filters=bank, mel_floor=1e-10, **settings)
    frontend = LogMel(config).double()
    samples = torch.from_numpy(wave)[None]
    # the window and filterbank are stored in float32: agreement to float32 precision
    np.testing.assert_allclose(frontend.power(samples)[0].numpy(), power, rtol=1e-5, atol=1e-6 * power.max())
    ours = frontend(samples)[0, 0].numpy()
    np.testing.assert_allclose(np.exp(ours) - 1e-6, mel, rtol=1e-5, atol=1e-6 * mel.max())


def test_tower_vectors_are_unit_deterministic_and_survive_save(tmp_path: Path):
    torch.manual_seed(0)
    tower = AudioTower(SMALL).eval()
    clips = torch.randn(3, 8000)
    with torch.inference_mode():
        vectors = tower(clips)
    assert vectors.shape == (3, 12)
    np.testing.assert_allclose(vectors.norm(dim=1).numpy(), 1, atol=1e-6)
    tower.save(tmp_path / "tower")
    with torch.inference_mode():
        np.testing.assert_array_equal(AudioTower.load(tmp_path / "tower")(clips).numpy(), vectors.numpy())


def test_encoder_routes_text_and_audio_and_takes_any_length():
    tower = AudioTower(SMALL)
    text = FixedText(12)
    encoder = AudioTowerEncoder(tower, text)
    np.testing.assert_array_equal(encoder.encode("text", ["dog"]), text.encode("text", ["dog"]))
    clips = [Waveform(np.random.default_rng(i).standard_normal(n).astype(np.float32), 8000)
             for i, n in enumerate((8000, 100, 0))]
    vectors = encoder.encode("audio", clips)
    assert vectors.shape == (3, 12) and np.all(np.isfinite(vectors))
    with pytest.raises(ValueError, match="dim"):
        AudioTowerEncoder(tower, FixedText(384))


def _esc_subset(data_dir: Path, classes: int, seconds: float):
    table = data_dir / "esc50" / "esc50.csv"
    if not table.is_file():
        pytest.skip("esc50 not found")
    from mmret.data.audio import read_audio

    rows = [r for r in csv.DictReader(table.open()) if r["fold"] == "4" and int(r["target"]) < classes]
    names = sorted({r["category"] for r in rows})
    clips = [read_audio(data_dir / "esc50" / "audio" / r["filename"], 16000).samples[:round(16000 * seconds)]
             for r in rows]
    labels = torch.tensor([names.index(r["category"]) for r in rows])
    return torch.from_numpy(np.stack(clips)), labels, names


def test_training_pulls_clips_to_their_class_names(data_dir: Path):
    samples, labels, names = _esc_subset(data_dir, classes=5, seconds=2.0)
    class_vectors = torch.from_numpy(FixedText(12).encode("text", names))
    settings = TrainSettings(epochs=30, batch_size=10, lr=1e-2)

    def text_to_audio_map(tower: AudioTower) -> float:
        with torch.inference_mode():
            audio = tower.eval()(samples).numpy()
        relevance = labels.numpy()[None, :] == np.arange(len(names))[:, None]
        return mean_metrics(Ranking.from_scores(class_vectors.numpy() @ audio.T, relevance), ["mAP"])["mAP"]

    torch.manual_seed(0)
    untrained = text_to_audio_map(AudioTower(SMALL))
    trained = text_to_audio_map(train_tower(samples, labels, class_vectors, settings, SMALL))
    assert trained > 0.9 and trained > untrained + 0.3, (untrained, trained)
