"""Smooth-AP: average precision with ranks relaxed by a sigmoid (Brown et al. 2020)."""
from __future__ import annotations

import torch
from torch import Tensor

from .listwise import ListwiseLoss
from .pairs import mean_or_zero


class SmoothAPLoss(ListwiseLoss):
    """1 - mean over queries of smooth AP over the gallery, scored by cosine similarity.

    A rank counts the items scored above an item; here each count is sigmoid((s_j - s_i) / temperature), so
    AP = mean over positives i of rank among positives / rank among all becomes differentiable. Queries
    without a positive are left out. Memory grows as queries × gallery². Called as every ListwiseLoss.
    """

    def __init__(self, temperature: float = 0.01, symmetric: bool = True):
        super().__init__(temperature, symmetric)

    def _one_direction(self, similarities: Tensor, positive: Tensor, valid: Tensor) -> Tensor:
        # above[q, i, j]: how much gallery item j counts as ranked above item i for query q
        above = torch.sigmoid((similarities[:, None, :] - similarities[:, :, None]) / self.temperature)
        others = ~torch.eye(similarities.shape[1], dtype=torch.bool, device=similarities.device)
        rank_all = 1 + (above * (valid[:, None, :] & others)).sum(2)
        rank_positive = 1 + (above * (positive[:, None, :] & others)).sum(2)
        n_positive = positive.sum(1)
        precision = (rank_positive / rank_all) * positive
        ap = precision.sum(1) / n_positive.clamp_min(1)
        return mean_or_zero(1 - ap[n_positive > 0])
