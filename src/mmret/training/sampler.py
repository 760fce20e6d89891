"""Which pairs go into which batch, epoch by epoch, as a pure function of (seed, epoch): a run resumed from a
checkpoint sees exactly the batches an uninterrupted run would have."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput


@dataclass(frozen=True)
class PairBatch:
    images: np.ndarray  # image rows
    texts: np.ndarray  # caption rows: texts[i] describes images[i]
    seed: tuple[int, ...]  # seeds the batch's own draws (feature views, augmentation)


class EpochSampler:
    """Every image once per epoch in a random order, each with one of its captions drawn at random, split into
    batches of near-equal size (no straggler batch too small to hold negatives). An image appears at most once
    in a batch, so row i's only positive is its own caption."""

    def __init__(self, captions_of: Sequence[np.ndarray], batch_size: int, seed: int = 0):
        if not captions_of or any(len(c) == 0 for c in captions_of):
            raise BadInput("every image needs at least one caption")
        self.captions_of = list(captions_of)
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return math.ceil(len(self.captions_of) / self.batch_size)

    def epoch(self, epoch: int) -> list[PairBatch]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.captions_of))
        picks = rng.random(len(order))
        texts = np.array([self.captions_of[i][int(p * len(self.captions_of[i]))] for i, p in zip(order, picks)])
        return [PairBatch(images, captions, (self.seed, epoch, index))
                for index, (images, captions) in enumerate(zip(np.array_split(order, len(self)),
                                                               np.array_split(texts, len(self))))]
