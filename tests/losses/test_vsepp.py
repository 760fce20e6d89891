"""MaxViolationLoss (VSE++), against its definition written out pair by pair with explicit loops."""
import pytest
import torch
import torch.nn.functional as F

from mmret.losses import MaxViolationLoss

MARGIN = 0.2


def written_out(a, b, labels, reduction):
    s = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    n = len(a)
    terms = []
    for i in range(n):
        negatives = [j for j in range(n) if labels[j] != labels[i]]
        hardest_b = max((s[i, j].item() for j in negatives), default=None)
        hardest_a = max((s[j, i].item() for j in negatives), default=None)
        term = 0.0
        for hardest in (hardest_b, hardest_a):
            if hardest is not None:
                term += max(0.0, MARGIN - s[i, i].item() + hardest)
        terms.append(term)
    return sum(terms) if reduction == "sum" else sum(terms) / n


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("with_labels", [False, True])
def test_matches_the_definition(paired, reduction, with_labels):
    a, b = paired
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8]) if with_labels else torch.arange(len(a))
    value = MaxViolationLoss(MARGIN, reduction)(a, b, labels=labels)
    assert value.item() == pytest.approx(written_out(a, b, labels.tolist(), reduction), rel=1e-5)


def test_zero_when_every_match_wins_by_the_margin():
    x = torch.eye(5)
    assert MaxViolationLoss(MARGIN)(x, x) == 0


def test_batch_of_one_has_no_negative():
    a, b = torch.randn(1, 4, requires_grad=True), torch.randn(1, 4)
    value = MaxViolationLoss()(a, b)
    value.backward()
    assert value == 0 and torch.equal(a.grad, torch.zeros_like(a))


def test_gradcheck(double):
    a, b = double(5, 3, seed=1), double(5, 3, seed=2)
    loss = MaxViolationLoss(margin=0.5)
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q), (a, b))


def test_training_aligns_pairs(fit):
    result = fit(MaxViolationLoss(), paired=True)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9


def test_unknown_reduction_is_rejected():
    with pytest.raises(ValueError, match="unknown reduction 'max'"):
        MaxViolationLoss(reduction="max")
