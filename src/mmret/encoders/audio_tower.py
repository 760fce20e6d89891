"""A trainable audio tower: log-mel spectrogram + small CNN into the offline text tower's space, and the
encoder that loads a saved one beside its text model.

Trained (training/audio_tower_fit.py) on labelled clips so that a clip lands near the text vector of its class
name. Text queries then go through the text tower unchanged, and audio queries through this tower.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..data.audio import Waveform, resample
from ..errors import BadInput
from .base import SHARED, Encoder
from .model_id import ModelId

WEIGHTS = "audio_tower.pt"
CONFIG = "audio_tower.json"
MANIFEST = "mmret_audio_tower.json"  # written by training/audio_tower_run.py beside the tower
FORMAT = 1
PREFIX = "audio-tower"


@dataclass(frozen=True)
class TowerConfig:
    rate: int = 16_000
    n_fft: int = 512
    hop: int = 320  # 20 ms frames
    n_mels: int = 64
    f_min: float = 50.0
    channels: tuple[int, ...] = (16, 32, 64, 128)
    dim: int = 384

    @property
    def min_samples(self) -> int:
        """The shortest input the pooling stages accept (one frame per stage halving)."""
        return max(self.n_fft, self.hop * 2 ** len(self.channels))


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)  # HTK


def mel_filterbank(n_freqs: int, n_mels: int, f_min: float, f_max: float, rate: int) -> np.ndarray:
    """(n_freqs, n_mels) triangular filters, evenly spaced on the HTK mel scale, peak 1, no area norm."""
    fft_hz = np.linspace(0, rate / 2, n_freqs)
    mel_points = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    lower, centre, upper = hz_points[:-2], hz_points[1:-1], hz_points[2:]
    rising = (fft_hz[:, None] - lower) / (centre - lower)
    falling = (upper - fft_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


class LogMel(nn.Module):
    """(batch, samples) -> (batch, 1, n_mels, frames) natural-log mel power, from a centred Hann STFT."""

    def __init__(self, config: TowerConfig):
        super().__init__()
        self.n_fft, self.hop = config.n_fft, config.hop
        bank = mel_filterbank(config.n_fft // 2 + 1, config.n_mels, config.f_min, config.rate / 2, config.rate)
        self.register_buffer("filters", torch.from_numpy(bank), persistent=False)
        self.register_buffer("window", torch.hann_window(config.n_fft, periodic=True), persistent=False)

    def power(self, samples: Tensor) -> Tensor:
        """(batch, n_fft // 2 + 1, frames) power spectrogram."""
        spectrum = torch.stft(samples, self.n_fft, self.hop, window=self.window, center=True, pad_mode="reflect",
                              return_complex=True)
        return spectrum.abs().square()

    def forward(self, samples: Tensor) -> Tensor:
        mel = torch.einsum("bft,fm->bmt", self.power(samples), self.filters)
        return torch.log(mel + 1e-6).unsqueeze(1)


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(),
                         nn.MaxPool2d(2))


class AudioTower(nn.Module):
    """Log-mel -> conv blocks -> mean+max over time -> linear -> unit vector of `dim`."""

    def __init__(self, config: TowerConfig = TowerConfig()):
        super().__init__()
        self.config = config
        self.frontend = LogMel(config)
        self.input_norm = nn.BatchNorm2d(1)
        widths = (1, *config.channels)
        self.blocks = nn.Sequential(*[_block(a, b) for a, b in itertools.pairwise(widths)])
        self.head = nn.Linear(2 * config.channels[-1], config.dim)

    def forward(self, samples: Tensor) -> Tensor:
        return self.embed_mels(self.frontend(samples))

    def embed_mels(self, mels: Tensor) -> Tensor:
        x = self.blocks(self.input_norm(mels)).mean(dim=2)  # (batch, channels, frames)
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return F.normalize(self.head(pooled), dim=-1)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), folder / WEIGHTS)
        (folder / CONFIG).write_text(json.dumps(asdict(self.config)))

    @classmethod
    def load(cls, folder: str | Path) -> AudioTower:
        folder = Path(folder)
        raw = json.loads((folder / CONFIG).read_text())
        tower = cls(TowerConfig(**{**raw, "channels": tuple(raw["channels"])}))
        tower.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        return tower.eval()


class AudioTowerEncoder(Encoder):
    """Text through a text tower, audio through a trained AudioTower in that tower's shared space."""

    modalities = ("text", "audio")

    def __init__(self, tower: AudioTower, text_encoder: Encoder, name: str = "audio-tower"):
        if text_encoder.spaces[SHARED] != tower.config.dim:
            raise BadInput(f"tower dim {tower.config.dim} != {text_encoder.model_id} dim {text_encoder.spaces[SHARED]}")
        self.tower = tower.eval()
        self.text_encoder = text_encoder
        self.spaces = {SHARED: tower.config.dim}
        self.model_id = f"{name}+{text_encoder.model_id}"

    @property
    def sampling_rate(self) -> int:
        return self.tower.config.rate

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        if modality == "text":
            return super().preparer(modality)
        return partial(_samples_at, rate=self.tower.config.rate, least=self.tower.config.min_samples)

    def collate(self, modality: str, prepared: Sequence[Any]) -> Any:
        return list(prepared)  # clips differ in length: each runs alone

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        if modality == "text":
            return {SHARED: self.text_encoder.encode("text", batch)}
        with torch.inference_mode():
            rows = [self.tower(torch.from_numpy(s)[None]).numpy() for s in batch]
        return {SHARED: np.concatenate(rows) if rows else np.zeros((0, self.spaces[SHARED]), np.float32)}


def _samples_at(wave: Waveform, rate: int, least: int) -> np.ndarray:
    """Samples at the tower's rate, zero-padded to the shortest length the tower accepts."""
    samples = resample(wave, rate).samples
    return np.pad(samples, (0, max(0, least - len(samples))))


def is_audio_tower_dir(path: str | Path) -> bool:
    path = Path(path)
    return read_manifest(path).get("format") == FORMAT and (path / WEIGHTS).is_file() and (path / CONFIG).is_file()


def load_audio_tower_encoder(path: str | Path, text_encoder: Encoder | None = None) -> AudioTowerEncoder:
    """The saved tower with its text model (loaded by the recorded model id when not given)."""
    folder = Path(path).expanduser().resolve()
    if not is_audio_tower_dir(folder):
        raise BadInput(f"{folder}: not an audio tower folder (needs {MANIFEST} of format {FORMAT}, {WEIGHTS}, "
                       f"{CONFIG})")
    recorded = read_manifest(folder)["text_model"]
    if text_encoder is None:
        from .loader import load_encoder

        text_encoder = load_encoder(recorded)
    if not ModelId.parse(recorded).same_weights(ModelId.parse(text_encoder.model_id)):
        raise BadInput(f"{folder}: the tower was trained against text model {recorded!r}, "
                       f"not {text_encoder.model_id!r}")
    return AudioTowerEncoder(AudioTower.load(folder), text_encoder, name=f"{PREFIX}:{folder}")


def read_manifest(folder: Path) -> dict:
    """The tower folder's manifest, or {} where it is missing or unreadable."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}
