"""ListNetLoss. For matched pairs its target is one-hot, so it must equal InfoNCE at the same fixed
temperature; for a labelled batch it is checked against the formula written out query by query."""
import pytest
import torch
import torch.nn.functional as F

from mmret.losses import InfoNCELoss, ListNetLoss

TAU = 0.1


def test_matched_pairs_equal_infonce(paired):
    a, b = paired
    infonce = InfoNCELoss(init_temperature=TAU, learnable=False)
    torch.testing.assert_close(ListNetLoss(TAU)(a, b), infonce(a, b), rtol=1e-5, atol=0)


def written_out(x, labels):
    s = F.normalize(x, dim=1) @ F.normalize(x, dim=1).T / TAU
    terms = []
    for q in range(len(x)):
        others = [j for j in range(len(x)) if j != q]
        relevant = [j for j in others if labels[j] == labels[q]]
        if relevant:
            log_p = s[q, others].log_softmax(0)
            terms.append(-sum(log_p[others.index(j)] for j in relevant) / len(relevant))
    return sum(terms) / len(terms)


def test_labelled_batch_matches_the_formula(labelled):
    x, labels = labelled
    labels = labels.clone()
    labels[-1] = 99  # a query with no relevant item is left out
    expected = written_out(x.double(), labels.tolist())
    assert ListNetLoss(TAU)(x, labels=labels).item() == pytest.approx(expected.item(), rel=1e-5)


def test_batch_of_one():
    x = torch.randn(1, 3, requires_grad=True)
    alone = ListNetLoss()(x, labels=torch.tensor([0]))
    alone.backward()
    assert alone == 0 and torch.equal(x.grad, torch.zeros_like(x))
    assert ListNetLoss()(torch.randn(1, 3), torch.randn(1, 3)) == 0


def test_gradcheck(double):
    a, b = double(6, 3, seed=1), double(6, 3, seed=2)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = ListNetLoss(temperature=0.5)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels=labels), (a,))
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q, labels=labels), (a, b))


@pytest.mark.parametrize("paired_problem", [False, True])
def test_training_improves_retrieval(fit, paired_problem):
    result = fit(ListNetLoss(), paired=paired_problem)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9
