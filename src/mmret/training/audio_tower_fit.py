"""Training loop of the audio tower (encoders/audio_tower.py): clips land near the text vectors of their class
names (cross-modal InfoNCE) and near other clips of their class (supervised contrastive InfoNCE between two
augmented views)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm import trange

from ..encoders.audio_tower import AudioTower, TowerConfig
from ..losses import InfoNCELoss

DEFAULT_CONFIG = TowerConfig()


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
                config: TowerConfig = DEFAULT_CONFIG, progress: bool = False) -> AudioTower:
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
