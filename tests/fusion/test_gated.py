"""Confidence-gated fusion: it starts as the mean, weighs only present parts, and learns per-item weights that a
fixed mean cannot express."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mmret.fusion import GatedFusion, WeightedMeanFusion, build_fusion


def unit_parts(n: int, dim: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [F.normalize(torch.randn(n, dim, generator=generator), dim=1) for _ in range(2)]


def test_it_starts_as_the_mean_of_the_present_parts():
    torch.manual_seed(0)
    gated, mean = GatedFusion((6, 6), 6, dropout=0.0), WeightedMeanFusion((6, 6), 6)
    parts = unit_parts(5, 6, 0)
    mask = torch.tensor([[True, True], [True, False], [False, True], [True, True], [True, True]])
    assert torch.allclose(gated(parts, mask), mean(parts, mask), atol=1e-3)


def test_weights_are_a_distribution_over_the_present_parts_only():
    torch.manual_seed(0)
    gated = GatedFusion((6, 6), 6, dropout=0.0)
    torch.nn.init.normal_(gated.gate[-1].weight)  # a gate far from its start
    mask = torch.tensor([[True, True], [True, False], [False, True]])
    weights = gated.modality_weights(unit_parts(3, 6, 1), mask)
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))
    assert weights[1, 1] == 0 and weights[2, 0] == 0 and (weights[0] > 0).all()


def test_the_gate_learns_which_part_to_trust_per_item():
    """Each item has one informative part (the target) and one noise part; which is which varies per item and
    shows only in the parts themselves (the informative one carries a marker). A fixed mean cannot beat
    half the noise; the gate must learn to follow the marker."""
    torch.manual_seed(0)
    n, dim = 512, 8
    target, noise = unit_parts(n, dim, 2)
    target[:, 0], noise[:, 0] = 1.0, -1.0  # the marker
    first_informative = torch.rand(n) < 0.5
    parts = [torch.where(first_informative[:, None], target, noise), torch.where(first_informative[:, None], noise, target)]
    gated = GatedFusion((dim, dim), dim, hidden=16, dropout=0.0)
    optimizer = torch.optim.Adam(gated.parameters(), lr=1e-2)
    for _ in range(300):
        optimizer.zero_grad()
        loss = (gated(parts) - target).square().sum(dim=1).mean()
        loss.backward()
        optimizer.step()
    mean_error = (WeightedMeanFusion((dim, dim), dim)(parts) - target).square().sum(dim=1).mean()
    weights = gated.modality_weights(parts)
    assert loss < 0.1 * mean_error
    assert (weights[first_informative, 0] > 0.9).all() and (weights[~first_informative, 1] > 0.9).all()


def test_parts_outside_the_output_space_need_project():
    with pytest.raises(ValueError, match=r"in_dims \[6, 5\] differ from dim 6; set project"):
        build_fusion("gated", (6, 5), 6)
    assert build_fusion("gated", (6, 5), 6, project=True)([torch.ones(2, 6), torch.ones(2, 5)]).shape == (2, 6)
