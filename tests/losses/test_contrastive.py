"""ContrastiveLoss. Oracle: pytorch-metric-learning's ContrastiveLoss(pos_margin=0, neg_margin=m), whose
per-pair terms are D for similar pairs and max(0, m - D) for dissimilar ones (not squared, not halved). With
its DoNothingReducer it hands back those terms per pair; ours must equal the mean over all pairs of term²/2."""
import pytest
import torch
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import reducers

from mmret.losses import ContrastiveLoss

MARGIN = 0.8


def pml_contrastive(distance: str):
    if distance == "euclidean":
        return pml_losses.ContrastiveLoss(pos_margin=0, neg_margin=MARGIN, reducer=reducers.DoNothingReducer())
    # a similarity s = 1 - D: pml's terms become max(0, 1 - s) = D and max(0, s - (1 - m)) = max(0, m - D)
    return pml_losses.ContrastiveLoss(
        pos_margin=1, neg_margin=1 - MARGIN, distance=pml_distances.CosineSimilarity(), reducer=reducers.DoNothingReducer()
    )


def squared_halved_mean(pml_terms: dict) -> torch.Tensor:
    terms = torch.cat([pml_terms["pos_loss"]["losses"], pml_terms["neg_loss"]["losses"]])
    return (terms.square() / 2).mean()


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_single_batch_matches_pml(labelled, distance):
    x, labels = labelled
    ours = ContrastiveLoss(MARGIN, distance)(x, labels=labels)
    torch.testing.assert_close(ours, squared_halved_mean(pml_contrastive(distance)(x, labels)), rtol=1e-5, atol=0)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_matched_pairs_match_pml_against_a_reference_batch(paired, distance):
    a, b = paired
    identity = torch.arange(len(a))
    # a distinct ref_labels object: pml drops the diagonal pairs when ref_labels *is* labels
    terms = pml_contrastive(distance)(a, identity, ref_emb=b, ref_labels=identity.clone())
    expected = squared_halved_mean(terms)
    torch.testing.assert_close(ContrastiveLoss(MARGIN, distance)(a, b), expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_explicit_pairs_match_pml_given_the_same_pairs(paired, distance):
    a, b = paired
    n = len(a)
    y = torch.tensor([1, 0] * (n // 2))
    # pml's pair tuple (anchor, positive, anchor, negative) over the stacked batch [a; b]: pair i is (i, n + i)
    similar, dissimilar = torch.nonzero(y == 1).squeeze(1), torch.nonzero(y == 0).squeeze(1)
    indices = (similar, similar + n, dissimilar, dissimilar + n)
    expected = squared_halved_mean(pml_contrastive(distance)(torch.cat([a, b]), indices_tuple=indices))
    torch.testing.assert_close(ContrastiveLoss(MARGIN, distance)(a, b, y), expected, rtol=1e-5, atol=0)


def test_pair_terms_follow_the_formula():
    loss = ContrastiveLoss(margin=1.0)
    distances = torch.tensor([0.5, 0.5, 1.5])
    terms = loss.pair_losses(distances, torch.tensor([1, 0, 0]))
    torch.testing.assert_close(terms, torch.tensor([0.125, 0.125, 0.0]))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_gradcheck(double, distance):
    loss = ContrastiveLoss(0.9, distance)
    labels = torch.tensor([0, 0, 1, 1, 2])
    y = torch.tensor([1, 0, 1, 0, 0])
    a, b = double(5, 3, seed=1), double(5, 3, seed=2)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels=labels), (a,))
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q), (a, b))
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q, y), (a, b))


@pytest.mark.parametrize("paired_problem", [False, True])
def test_training_separates_classes(fit, paired_problem):
    result = fit(ContrastiveLoss(), paired=paired_problem)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9


def test_batch_of_one():
    x = torch.randn(1, 4, requires_grad=True)
    alone = ContrastiveLoss()(x, labels=torch.tensor([0]))
    alone.backward()
    assert alone == 0 and torch.equal(x.grad, torch.zeros_like(x))
    a, b = torch.randn(1, 4), torch.randn(1, 4)
    pair = ContrastiveLoss(distance="cosine")(a, b)
    torch.testing.assert_close(pair, (1 - torch.cosine_similarity(a, b)).square().sum() / 2)


def test_pair_labels_need_two_batches_of_their_length():
    loss = ContrastiveLoss()
    with pytest.raises(ValueError, match="two batches"):
        loss(torch.randn(3, 2), None, torch.ones(3))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        loss(torch.randn(3, 2), torch.randn(3, 2), torch.ones(2))
