"""A positive multiplier for similarity logits (an inverse temperature), stored as its log as CLIP and SigLIP do."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import BadInput


class LogitScale(nn.Module):
    def __init__(self, init: float, learnable: bool = True, lower: float | None = None, upper: float | None = None):
        super().__init__()
        self.log_lower = math.log(lower) if lower is not None else -math.inf
        self.log_upper = math.log(upper) if upper is not None else math.inf
        if not init > 0 or not self.log_lower <= math.log(init) <= self.log_upper:
            raise BadInput(f"initial scale {init} must be positive and within [{lower}, {upper}]")
        log_scale = torch.tensor(math.log(init))
        if learnable:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def forward(self) -> Tensor:
        # Project the parameter itself back into bounds, as CLIP clamps it after each optimiser step: a clamp
        # inside the graph would give an out-of-bounds parameter no gradient, and it would stay stuck there.
        with torch.no_grad():
            self.log_scale.clamp_(self.log_lower, self.log_upper)
        return self.log_scale.exp()

    def value(self) -> float:
        """The scale the next forward uses (without touching the parameter)."""
        return math.exp(min(max(self.log_scale.item(), self.log_lower), self.log_upper))

    def extra_repr(self) -> str:
        return f"scale={self.value():.4g}, learnable={self.log_scale.requires_grad}"
