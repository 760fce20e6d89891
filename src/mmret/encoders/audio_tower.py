"""A trainable audio tower: log-mel spectrogram + small CNN into the offline text tower's 384-d space.

Trained on labelled clips so that a clip lands near the text vector of its class name (cross-modal InfoNCE)
and near other clips of its class (supervised contrastive InfoNCE between two augmented views). Text queries
then go through the text tower unchanged, and audio queries through this tower.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm import trange

from ..data.audio import Waveform, resample
from ..losses import InfoNCELoss
from .base import SHARED, Encoder

WEIGHTS = "audio_tower.pt"
CONFIG = "audio_tower.json"


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


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    clip_weight: float = 1.0  # supervised contrastive among clips, beside the clip <-> class-name term
    time_mask: float = 0.2  # fraction of frames one random mask may hide
    seed: int = 0


def augment(mels: Tensor, generator: torch.Generator, time_mask: float) -> Tensor:
    """A random circular time shift and one random time mask per clip (SpecAugment-lite)."""
    frames = mels.shape[-1]
    out = torch.empty_like(mels)
    for i in range(len(mels)):
        shift = int(torch.randint(frames, (1,), generator=generator))
        out[i] = torch.roll(mels[i], shift, dims=-1)
        width = int(torch.randint(int(frames * time_mask) + 1, (1,), generator=generator))
        start = int(torch.randint(frames - width + 1, (1,), generator=generator))
        out[i, ..., start:start + width] = out[i].mean()
    return out


def train_tower(samples: Tensor, labels: Tensor, class_vectors: Tensor, settings: TrainSettings = TrainSettings(),
                config: TowerConfig = TowerConfig(), progress: bool = False) -> AudioTower:
    """A tower trained on (n, samples) clips at config.rate with integer labels; class_vectors (classes, dim)
    are the text vectors of the class names, the targets in the shared space."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    tower = AudioTower(config)
    with torch.no_grad():
        mels = tower.frontend(samples)  # the frontend has no parameters: compute once
    to_text, among_clips = InfoNCELoss(), InfoNCELoss()
    params = [*tower.parameters(), *to_text.parameters(), *among_clips.parameters()]
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    steps = settings.epochs * math.ceil(len(mels) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, settings.lr, total_steps=steps)
    tower.train()
    for _ in trange(settings.epochs, desc="training", unit="epoch", disable=not progress):
        for batch in torch.randperm(len(mels), generator=generator).split(settings.batch_size):
            loss = _step_loss(tower, mels[batch], labels[batch], class_vectors, (to_text, among_clips),
                              settings, generator)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return tower.eval()


def _step_loss(tower: AudioTower, mels: Tensor, labels: Tensor, class_vectors: Tensor, losses: tuple[nn.Module, nn.Module],
               settings: TrainSettings, generator: torch.Generator) -> Tensor:
    to_text, among_clips = losses
    first = tower.embed_mels(augment(mels, generator, settings.time_mask))
    second = tower.embed_mels(augment(mels, generator, settings.time_mask))
    text = class_vectors[labels]
    cross = (to_text(first, text, labels=labels) + to_text(second, text, labels=labels)) / 2
    return cross + settings.clip_weight * among_clips(first, second, labels=labels)


class AudioTowerEncoder(Encoder):
    """Text through a text tower, audio through a trained AudioTower in that tower's shared space."""

    modalities = ("text", "audio")

    def __init__(self, tower: AudioTower, text_encoder: Encoder, name: str = "audio-tower"):
        if text_encoder.spaces[SHARED] != tower.config.dim:
            raise ValueError(f"tower dim {tower.config.dim} != {text_encoder.model_id} dim {text_encoder.spaces[SHARED]}")
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
