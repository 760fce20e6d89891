"""Temporal pooling: mean pooling against numpy, AttentionPooling's invariances (padding, frame order, untrained =
mean), save/load, and training on a synthetic task where attention must learn to ignore distractor frames."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmret.encoders.base import l2_normalise
from mmret.encoders.pooling import (
    AttentionPooling,
    mean_pool,
    pad_shots,
)
from mmret.training.pooling_fit import train_attention_pooling

DIM, SUBSPACE = 32, 8


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


def random_shots(rng: np.random.Generator, count: int, dim: int = DIM) -> list[np.ndarray]:
    return [l2_normalise(rng.standard_normal((int(rng.integers(1, 8)), dim))) for _ in range(count)]


def scrambled(dim: int = DIM, seed: int = 0) -> AttentionPooling:
    """A module whose scores are far from uniform, so that the invariances are not trivially mean pooling's."""
    torch.manual_seed(seed)
    module = AttentionPooling(dim, hidden=16)
    torch.nn.init.normal_(module.score[-1].weight, std=3.0)
    return module.eval()


def test_mean_pool_is_the_normalised_mean():
    shot = l2_normalise(np.random.default_rng(0).standard_normal((5, DIM)))
    expected = shot.mean(0) / np.linalg.norm(shot.mean(0))
    pooled = mean_pool(shot)
    assert pooled.shape == (DIM,) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, expected, atol=1e-6)


def test_empty_shots_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="empty"):
        mean_pool(np.zeros((0, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        AttentionPooling(DIM).pool(np.zeros((0, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="at least one real frame"):
        AttentionPooling(DIM)(torch.zeros(2, 3, DIM), torch.tensor([[True, False, False], [False] * 3]))


def test_untrained_attention_pooling_is_mean_pooling():
    shots = random_shots(np.random.default_rng(1), 20)
    module = AttentionPooling(DIM)
    frames, mask = pad_shots(shots)
    with torch.no_grad():
        batched = module(frames, mask).numpy()
    for shot, row in zip(shots, batched):
        np.testing.assert_allclose(row, mean_pool(shot), atol=1e-6)
        np.testing.assert_allclose(module.pool(shot), mean_pool(shot), atol=1e-6)


@pytest.mark.parametrize("filler", ["garbage", "nan"])
def test_padding_frames_do_not_change_the_output(filler):
    shots = random_shots(np.random.default_rng(2), 10)
    module = scrambled()
    frames, mask = pad_shots(shots)
    padding = int((~mask).sum())
    assert padding > 0
    frames[~mask] = torch.randn(padding, DIM) * 100 if filler == "garbage" else torch.full((padding, DIM), float("nan"))
    with torch.no_grad():
        batched = module(frames, mask).numpy()
    for shot, row in zip(shots, batched):
        np.testing.assert_allclose(row, module.pool(shot), atol=1e-6)


def test_output_is_invariant_to_frame_order():
    rng = np.random.default_rng(3)
    module = scrambled()
    shot = l2_normalise(rng.standard_normal((7, DIM)))
    assert not np.allclose(module.pool(shot), mean_pool(shot), atol=1e-3)  # the weights really are uneven
    for _ in range(5):
        np.testing.assert_allclose(module.pool(shot[rng.permutation(7)]), module.pool(shot), atol=1e-6)


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    module = scrambled()
    module.save(tmp_path / "pool.pt")
    loaded = AttentionPooling.load(tmp_path / "pool.pt")
    assert (loaded.dim, loaded.hidden) == (DIM, 16)
    for shot in random_shots(np.random.default_rng(4), 5):
        np.testing.assert_array_equal(loaded.pool(shot), module.pool(shot))


def synthetic(rng: np.random.Generator, basis: np.ndarray, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """count targets, unit vectors in a SUBSPACE-dim subspace (the captions' space), and one shot for each."""
    targets = l2_normalise(rng.standard_normal((count, SUBSPACE)) @ basis)
    return shots_for(rng, targets), targets


def shots_for(rng: np.random.Generator, targets: np.ndarray, noise: float = 0.5) -> list[np.ndarray]:
    """Per target, a shot of 2 frames near it and 4 distractors: random unit vectors (blank frames, logos)."""
    shots = []
    for target in targets:
        informative = l2_normalise(target + noise * rng.standard_normal((2, DIM)) / np.sqrt(DIM))
        frames = np.concatenate([informative, l2_normalise(rng.standard_normal((4, DIM)))])
        shots.append(frames[rng.permutation(len(frames))])
    return shots


def recall_at_1(pooled: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean((pooled @ targets.T).argmax(1) == np.arange(len(targets))))


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((DIM, SUBSPACE)))[0].T  # (SUBSPACE, DIM), orthonormal rows
    return synthetic(rng, basis, 512), synthetic(rng, basis, 200)


def test_trained_attention_beats_mean_pooling_on_held_out_shots(task):
    (train_shots, train_targets), (test_shots, test_targets) = task
    module = train_attention_pooling(train_shots, train_targets, epochs=30)
    mean_r1 = recall_at_1(np.stack([mean_pool(s) for s in test_shots]), test_targets)
    attention_r1 = recall_at_1(np.stack([module.pool(s) for s in test_shots]), test_targets)
    print(f"held-out R@1 over 200 shots -> targets: mean {mean_r1:.3f}, attention {attention_r1:.3f}")
    assert attention_r1 >= 0.85 and attention_r1 >= mean_r1 + 0.15, (mean_r1, attention_r1)


def test_labels_let_shots_share_a_target(task):
    """Each target captions two shots: with labels the pair are both positives (not each other's negative)."""
    (shots, targets), (test_shots, test_targets) = task
    rng = np.random.default_rng(5)
    twice = [*shots[:256], *shots_for(rng, targets[:256])]
    shared = np.concatenate([targets[:256], targets[:256]])
    module = train_attention_pooling(twice, shared, labels=np.tile(np.arange(256), 2), epochs=30)
    mean_r1 = recall_at_1(np.stack([mean_pool(s) for s in test_shots]), test_targets)
    attention_r1 = recall_at_1(np.stack([module.pool(s) for s in test_shots]), test_targets)
    print(f"with shared targets: mean {mean_r1:.3f}, attention {attention_r1:.3f}")
    assert attention_r1 >= mean_r1 + 0.15, (mean_r1, attention_r1)
    with pytest.raises(ValueError, match="labels"):
        train_attention_pooling(shots[:4], targets[:4], labels=np.arange(3))


def test_training_is_deterministic_for_a_seed(task):
    (shots, targets), _ = task
    first, second, other = (train_attention_pooling(shots, targets, epochs=3, seed=s) for s in (7, 7, 8))
    for name, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[name]), name
    assert not torch.equal(first.score[0].weight, other.score[0].weight)
