"""Feature-level fusion modules: shapes, gradients, masking of missing modalities, and the tensor-fusion oracles."""
from __future__ import annotations

import pytest
import torch

from mmret.fusion import (
    FUSIONS,
    LowRankTensorFusion,
    TensorFusion,
    WeightedMeanFusion,
    build_fusion,
)
from mmret.fusion.tensor import outer_product

DIMS = (6, 5, 4)
OPTIONS = {"mean": {"project": True}, "concat": {"hidden": 16}, "tensor": {"reduce": 3}, "low_rank": {"rank": 4},
           "attention": {"heads": 2}, "gated": {"hidden": 8, "project": True},
           "query_head": {"items": "gated", "items_options": {"hidden": 8, "project": True}, "hidden": 8}}


def parts(n: int = 7, dims=DIMS, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=generator) for d in dims]


@pytest.fixture(params=sorted(FUSIONS))
def fusion(request):
    torch.manual_seed(0)
    return build_fusion(request.param, DIMS, 8, **OPTIONS[request.param])


def test_every_registered_fusion_is_tested():
    assert set(OPTIONS) == set(FUSIONS)


def test_output_shape(fusion):
    assert fusion(parts()).shape == (7, 8)


def test_gradients_reach_every_parameter_and_input(fusion):
    """Through the fused items, or (a module with a query side) through the adapted queries."""
    inputs = [p.requires_grad_() for p in parts()]
    (fusion(inputs).square().sum() + fusion.adapt_query(torch.randn(3, 8)).square().sum()).backward()
    for name, parameter in fusion.named_parameters():
        if parameter.requires_grad:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert all(p.grad.abs().sum() > 0 for p in inputs)


def test_a_missing_modality_is_never_read(fusion):
    fusion.eval()
    mask = torch.tensor([[True, False, True], [False, True, True], [True, True, False]] * 2 + [[False, False, True]])
    first, second = parts(seed=1), parts(seed=1)
    second = [torch.where(mask[:, i, None], part, torch.randn_like(part) * 100) for i, part in enumerate(second)]
    assert torch.allclose(fusion(first, mask), fusion(second, mask), atol=1e-5)
    assert torch.isfinite(fusion(first, mask)).all()


def test_rows_without_any_modality_are_refused(fusion):
    mask = torch.ones(7, 3, dtype=torch.bool)
    mask[2] = False
    with pytest.raises(ValueError, match=r"rows \[2\] have no modality"):
        fusion(parts(), mask)


def test_wrong_part_shapes_are_refused(fusion):
    with pytest.raises(ValueError, match="part 1 must have shape"):
        fusion(parts(dims=(6, 9, 4)))


def test_mean_of_equal_weights_is_the_plain_average_of_present_parts():
    fusion = WeightedMeanFusion((3, 3), 3)
    a, b = parts(4, (3, 3))
    mask = torch.tensor([[True, True], [True, False], [False, True], [True, True]])
    expected = torch.stack([(a[0] + b[0]) / 2, a[1], b[2], (a[3] + b[3]) / 2])
    assert torch.allclose(fusion([a, b], mask), expected)


def test_tensor_fusion_is_a_linear_map_of_the_explicit_outer_product():
    fusion = TensorFusion((2, 3), 4, reduce=0)
    a, b = parts(5, (2, 3))
    for row in range(5):
        one_a, one_b = torch.cat([a[row], torch.ones(1)]), torch.cat([b[row], torch.ones(1)])
        explicit = torch.outer(one_a, one_b).flatten()  # (3 * 4,), by the definition of the outer product
        assert torch.allclose(outer_product([a[row:row + 1], b[row:row + 1]])[0], explicit)
        expected = fusion.projection.weight @ explicit + fusion.projection.bias
        assert torch.allclose(fusion([a, b])[row], expected, atol=1e-6)


def test_three_way_outer_product_holds_every_interaction():
    a, b, c = parts(1, (2, 2, 2))
    product = outer_product([a, b, c]).reshape(3, 3, 3)
    assert torch.isclose(product[0, 1, 1], a[0, 0] * b[0, 1] * c[0, 1])
    assert torch.isclose(product[1, 2, 2], a[0, 1])  # a unimodal term: the other two contribute their constant 1
    assert product[2, 2, 2] == 1


def test_low_rank_at_full_rank_equals_full_tensor_fusion():
    """A full tensor fusion weight W (dim, 3, 4) is a sum of (3 * 4) rank-one terms e_i (x) e_j scaled by
    W[:, i, j]: LMF with those factors computes exactly the same function."""
    torch.manual_seed(0)
    full = TensorFusion((2, 3), 4, reduce=0)
    weight = full.projection.weight.detach().reshape(4, 3, 4)
    low = LowRankTensorFusion((2, 3), 4, rank=12)
    with torch.no_grad():
        for r, (i, j) in enumerate((i, j) for i in range(3) for j in range(4)):
            low.factors[0][r].zero_()
            low.factors[0][r, i, :] = weight[:, i, j]
            low.factors[1][r].zero_()
            low.factors[1][r, j, :] = 1.0
        low.bias.copy_(full.projection.bias)
    inputs = parts(6, (2, 3))
    mask = torch.tensor([[True, True], [True, False], [False, True]] * 2)
    assert torch.allclose(low(inputs, mask), full(inputs, mask), atol=1e-5)


def test_attention_weights_are_zero_for_missing_modalities():
    torch.manual_seed(0)
    fusion = build_fusion("attention", (4, 4), 8, heads=2)
    mask = torch.tensor([[True, False], [True, True]])
    weights = fusion.modality_weights(parts(2, (4, 4)), mask)
    assert weights[0, 1] == 0 and (weights[1] > 0).all() and (weights <= 1).all()


def test_unknown_fusion_names_the_choices():
    with pytest.raises(ValueError, match="unknown fusion 'sum'.*attention"):
        build_fusion("sum", (3,), 3)
