"""Training of AttentionPooling (encoders/pooling.py): pooled shots land near their targets, e.g. the text
vectors of their captions."""
from __future__ import annotations

import numpy as np
import torch

from ..encoders.pooling import AttentionPooling, pad_shots
from ..errors import BadInput
from ..losses import InfoNCELoss


def train_attention_pooling(shots: list[np.ndarray], targets: np.ndarray, labels: np.ndarray | None = None,
                            epochs: int = 50, lr: float = 1e-2, batch_size: int = 64, temperature: float = 0.05,
                            seed: int = 0) -> AttentionPooling:
    """AttentionPooling trained with symmetric InfoNCE (fixed temperature) so that pooled shot i lands near
    targets[i] among the batch's targets; shots with equal labels (e.g. one caption) count as positives."""
    targets = np.asarray(targets, dtype=np.float32)
    if targets.ndim != 2 or len(targets) != len(shots):
        raise BadInput(f"targets must be ({len(shots)}, d), one per shot, got shape {targets.shape}")
    frames, mask = pad_shots(shots, targets.shape[1])
    goal = torch.from_numpy(targets)
    ids = torch.as_tensor(labels) if labels is not None else torch.arange(len(shots))
    if ids.shape != (len(shots),):
        raise BadInput(f"labels must have shape ({len(shots)},), got {tuple(ids.shape)}")
    with torch.random.fork_rng(devices=[]):  # seeded without disturbing the caller's global RNG
        torch.manual_seed(seed)
        model = AttentionPooling(targets.shape[1])
    generator = torch.Generator().manual_seed(seed)
    loss_fn = InfoNCELoss(init_temperature=temperature, learnable=False)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(shots), generator=generator).split(batch_size):
            loss = loss_fn(model(frames[batch], mask[batch]), goal[batch], labels=ids[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()
