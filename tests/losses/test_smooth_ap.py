"""SmoothAPLoss. Oracle: pytorch-metric-learning's SmoothAPLoss, which (following the paper's code) ranks the
whole batch for each query, the query itself included as a positive; that is our labelled-pairs form with
the batch on both sides, loss(x, x, labels=l) one way. pml groups the batch into classes correctly only when
there are as many classes as samples per class (it uses batch // classes as the number of groups), so the
oracle batch is 5 classes × 5. Also: at a tiny temperature it is 1 - exact mean AP."""
import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses

from mmret.losses import SmoothAPLoss


def test_matches_pml_on_the_batch_against_itself():
    x = torch.randn(25, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(5).repeat_interleave(5)
    ours = SmoothAPLoss(temperature=0.01, symmetric=False)(x, x, labels=labels)
    torch.testing.assert_close(ours, pml_losses.SmoothAPLoss(temperature=0.01)(x, labels), rtol=1e-5, atol=0)


def exact_mean_ap(x, labels):
    """Mean over queries of average precision, each row ranking the rest of the batch by cosine similarity."""
    s = F.normalize(x, dim=1) @ F.normalize(x, dim=1).T
    aps = []
    for q in range(len(x)):
        others = [j for j in range(len(x)) if j != q]
        ranked = sorted(others, key=lambda j: -s[q, j].item())
        hits = [labels[j] == labels[q] for j in ranked]
        precisions = [sum(hits[: k + 1]) / (k + 1) for k, hit in enumerate(hits) if hit]
        if precisions:
            aps.append(sum(precisions) / len(precisions))
    return sum(aps) / len(aps)


def test_tends_to_one_minus_exact_ap_as_temperature_vanishes(labelled):
    x, labels = labelled
    x, labels = x.double(), labels.clone()
    labels[-1] = 99  # a query with no positive is left out
    smooth = SmoothAPLoss(temperature=1e-6)(x, labels=labels)
    assert smooth.item() == pytest.approx(1 - exact_mean_ap(x, labels.tolist()), abs=1e-6)


def test_perfect_ranking_costs_nothing():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    assert SmoothAPLoss(temperature=1e-3)(x, labels=torch.tensor([0, 0, 1, 1])) < 1e-6


def test_matched_pairs_rank_the_other_side(paired):
    a, b = paired
    one_way = SmoothAPLoss(symmetric=False)
    assert one_way(a, b) == one_way(a, b, labels=torch.arange(len(a)))
    torch.testing.assert_close(SmoothAPLoss()(a, b), (one_way(a, b) + one_way(b, a)) / 2)


def test_batch_of_one():
    x = torch.randn(1, 3, requires_grad=True)
    alone = SmoothAPLoss()(x, labels=torch.tensor([0]))
    alone.backward()
    assert alone == 0 and torch.equal(x.grad, torch.zeros_like(x))
    assert SmoothAPLoss()(torch.randn(1, 3), torch.randn(1, 3)) == 0  # its one match ranks first


def test_gradcheck(double):
    a, b = double(6, 3, seed=1), double(6, 3, seed=2)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = SmoothAPLoss(temperature=0.1)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels=labels), (a,))
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q), (a, b))


@pytest.mark.parametrize("paired_problem", [False, True])
def test_training_improves_retrieval(fit, paired_problem):
    result = fit(SmoothAPLoss(temperature=0.05), paired=paired_problem)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9
