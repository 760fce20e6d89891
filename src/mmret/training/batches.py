"""Batches of model inputs: the sampler's rows turned into tensors of cached features or prepared pixels."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from ..data.items import Item
from .augment import ImageAugment
from .features import prepare_view
from .sampler import EpochSampler


class Source(Protocol):
    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Tensor: ...


class CachedFeatures:
    """Rows of an (n, views, d) feature array, each in one of its views drawn at random."""

    def __init__(self, features: np.ndarray):
        self.features = features

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Tensor:
        views = rng.integers(self.features.shape[1], size=len(rows))
        return torch.from_numpy(self.features[rows, views])


class LiveImages:
    """Images prepared from their files' bytes at every step, augmented when an augmentation is given."""

    def __init__(self, items: Sequence[Item], contents: Sequence[bytes], prepare, augment: ImageAugment | None):
        self.items, self.contents = items, contents
        self.prepare, self.augment = prepare, augment

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Tensor:
        draws = rng if self.augment is not None else None
        return torch.from_numpy(np.stack([prepare_view(self.items[r], self.contents[r], self.prepare, self.augment,
                                                       draws) for r in rows]))


class PairBatches:
    """(image inputs, text inputs) of each batch of an epoch; row i of one matches row i of the other."""

    def __init__(self, sampler: EpochSampler, images: Source, texts: Source):
        self.sampler, self.images, self.texts = sampler, images, texts

    def __len__(self) -> int:
        return len(self.sampler)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in self.sampler.epoch(epoch)[start:]:
            rng = np.random.default_rng(batch.seed)
            yield self.images(batch.images, rng), self.texts(batch.texts, rng)
