"""SigmoidLoss, against SigLIP's formula written out pair by pair: -1/n Σ_i Σ_j log σ(z_ij (t cos_ij + b))."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmret.losses import SigmoidLoss


def written_out(a, b, t, bias, labels):
    n = len(a)
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if labels[i] == labels[j] else -1.0
            cos = F.cosine_similarity(a[i], b[j], dim=0).item()
            total -= math.log(1 / (1 + math.exp(-z * (t * cos + bias))))
    return total / n


@pytest.mark.parametrize("with_labels", [False, True])
def test_matches_the_formula(paired, with_labels):
    a, b = paired
    labels = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4, 5, 6, 7, 8]) if with_labels else torch.arange(len(a))
    loss = SigmoidLoss(init_temperature=3.0, init_bias=-2.0)
    value = loss(a, b, labels=labels) if with_labels else loss(a, b)
    assert value.item() == pytest.approx(written_out(a, b, 3.0, -2.0, labels.tolist()), rel=1e-5)


def test_starts_as_siglip_and_learns_both_scale_and_bias(paired):
    loss = SigmoidLoss()
    assert loss.logit_scale.log_scale.item() == pytest.approx(math.log(10))  # t' = log 10
    assert loss.bias.item() == -10
    loss(*paired).backward()
    assert loss.logit_scale.log_scale.grad != 0 and loss.bias.grad != 0
    assert list(SigmoidLoss(learnable=False).parameters()) == []


def test_batch_of_one_is_one_positive_pair():
    a, b = torch.randn(1, 4), torch.randn(1, 4)
    cos = F.cosine_similarity(a, b)
    torch.testing.assert_close(SigmoidLoss()(a, b), -F.logsigmoid(10 * cos - 10).sum())


def test_gradcheck(double):
    loss = SigmoidLoss(init_temperature=2.0, init_bias=-1.0, learnable=False)
    a, b = double(5, 3, seed=1), double(5, 3, seed=2)
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q), (a, b))


def test_training_aligns_pairs(fit):
    result = fit(SigmoidLoss(), paired=True)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9
