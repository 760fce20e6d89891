"""The epoch sampler: every image once per epoch with one of its own captions, batches of near-equal size,
and the same batches for the same (seed, epoch)."""
from __future__ import annotations

import numpy as np

from mmret.training.sampler import EpochSampler

CAPTIONS_OF = [np.arange(5 * i, 5 * i + 5) for i in range(23)]  # 23 images, captions 5i..5i+4


def test_each_epoch_pairs_every_image_once_with_one_of_its_captions():
    sampler = EpochSampler(CAPTIONS_OF, batch_size=8, seed=0)
    for epoch in range(3):
        batches = sampler.epoch(epoch)
        images = np.concatenate([b.images for b in batches])
        texts = np.concatenate([b.texts for b in batches])
        assert sorted(images) == list(range(23))
        assert all(text // 5 == image for image, text in zip(images, texts))


def test_batches_are_near_equal_and_within_the_batch_size():
    batches = EpochSampler(CAPTIONS_OF, batch_size=8, seed=0).epoch(0)
    assert len(batches) == 3 and sorted(len(b.images) for b in batches) == [7, 8, 8]


def test_epochs_are_reproducible_and_differ_from_each_other():
    def flat(sampler, epoch):
        return np.concatenate([np.concatenate([b.images, b.texts]) for b in sampler.epoch(epoch)])

    a, b = EpochSampler(CAPTIONS_OF, 8, seed=1), EpochSampler(CAPTIONS_OF, 8, seed=1)
    assert np.array_equal(flat(a, 4), flat(b, 4))
    assert not np.array_equal(flat(a, 4), flat(a, 5))
    assert not np.array_equal(flat(a, 4), flat(EpochSampler(CAPTIONS_OF, 8, seed=2), 4))


def test_every_caption_gets_drawn_over_epochs():
    sampler = EpochSampler(CAPTIONS_OF, 8, seed=0)
    drawn = {int(t) for epoch in range(40) for b in sampler.epoch(epoch) for t in b.texts}
    assert drawn == set(range(5 * 23))
