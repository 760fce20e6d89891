"""Learning-rate schedule: linear warmup, then a cosine decay to a floor."""
from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> float:
    """The multiplier of the base learning rate for optimiser step `step` (0-based).

    Steps 0..warmup-1 ramp up linearly to 1 (the first is 1/warmup, never 0); then the multiplier follows half
    a cosine from 1 at step `warmup` down to min_ratio at step `total_steps`.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int,
                            min_ratio: float = 0.0) -> LambdaLR:
    return LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup_steps, total_steps, min_ratio))
