"""The pairwise sigmoid loss of SigLIP (Zhai et al. 2023)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .distances import cosine_matrix
from .pairs import make_pairs
from .temperature import LogitScale


class SigmoidLoss(nn.Module):
    """Every pair (a_i, b_j) is its own binary classification of t·cos + bias: -Σ_ij log σ(z_ij (t cos_ij + bias)) / n,
    z_ij = 1 for a match and -1 otherwise. As in SigLIP, t = exp(t') starts at 10 and the bias at -10,
    which offsets the n² - n negatives outweighing the n positives early in training.

        loss(a, b)              matched pairs: (a_i, b_j) is positive iff i == j
        loss(a, b, labels=l)    (a_i, b_j) is positive iff l_i == l_j
    """

    def __init__(self, init_temperature: float = 10.0, init_bias: float = -10.0, learnable: bool = True):
        super().__init__()
        self.logit_scale = LogitScale(init_temperature, learnable)
        bias = torch.tensor(float(init_bias))
        if learnable:
            self.bias = nn.Parameter(bias)
        else:
            self.register_buffer("bias", bias)

    def forward(self, a: Tensor, b: Tensor, *, labels: Tensor | None = None) -> Tensor:
        pairs = make_pairs(a, b, labels)
        logits = self.logit_scale() * cosine_matrix(a, b) + self.bias
        signs = 2 * pairs.positive.to(logits.dtype) - 1
        return -F.logsigmoid(signs * logits).sum() / len(a)

    def extra_repr(self) -> str:
        return f"bias={self.bias.item():.4g}"
