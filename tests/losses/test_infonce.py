"""InfoNCELoss. Oracles: (1) pytorch-metric-learning's NTXentLoss on queries a with reference batch b and
identity labels, which is -log softmax over cos(a_i, b) / τ of the matching b_i, i.e. one direction of the
CLIP loss (the symmetric loss is the mean of pml on (a, ref b) and on (b, ref a)); (2) the CLIP loss written
out with torch.nn.functional.cross_entropy on normalised features."""
import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import reducers

from mmret.losses import InfoNCELoss

TAU = 0.1


def fixed(**kwargs) -> InfoNCELoss:
    return InfoNCELoss(init_temperature=TAU, learnable=False, **kwargs)


def pml_one_direction(queries, gallery):
    identity = torch.arange(len(queries))
    ntxent = pml_losses.NTXentLoss(temperature=TAU, reducer=reducers.MeanReducer())
    # a distinct ref_labels object: pml drops the diagonal pairs when ref_labels *is* labels
    return ntxent(queries, identity, ref_emb=gallery, ref_labels=identity.clone())


def clip_loss(a, b, label_smoothing=0.0):
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / TAU
    targets = torch.arange(len(a))
    image_to_text = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
    text_to_image = F.cross_entropy(logits.T, targets, label_smoothing=label_smoothing)
    return (image_to_text + text_to_image) / 2


def test_one_direction_matches_pml_ntxent(paired):
    a, b = paired
    torch.testing.assert_close(fixed(symmetric=False)(a, b), pml_one_direction(a, b), rtol=1e-5, atol=0)


def test_symmetric_is_the_mean_of_both_pml_directions(paired):
    a, b = paired
    expected = (pml_one_direction(a, b) + pml_one_direction(b, a)) / 2
    torch.testing.assert_close(fixed()(a, b), expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_matches_clip_cross_entropy(paired, label_smoothing):
    a, b = paired
    expected = clip_loss(a, b, label_smoothing)
    torch.testing.assert_close(fixed(label_smoothing=label_smoothing)(a, b), expected, rtol=1e-5, atol=0)


def test_labels_spread_the_target_over_every_match(paired):
    a, b = paired
    identity = torch.arange(len(a))
    torch.testing.assert_close(fixed()(a, b, labels=identity), fixed()(a, b))
    labels = identity.clone()
    labels[1] = 0  # rows 0 and 1 now match each other as well
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / TAU
    target = (labels[:, None] == labels[None]).double()
    target = target / target.sum(1, keepdim=True)
    one_way = -(target * logits.double().log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(fixed(symmetric=False)(a, b, labels=labels).double(), one_way)


def test_temperature_is_a_learnable_log_scale_or_a_constant():
    learnable = InfoNCELoss(init_temperature=0.07)
    assert learnable.temperature == pytest.approx(0.07)
    assert learnable.logit_scale.log_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert [name for name, _ in learnable.named_parameters()] == ["logit_scale.log_scale"]
    assert list(InfoNCELoss(learnable=False).parameters()) == []


def test_temperature_gets_a_gradient(paired):
    loss = InfoNCELoss()
    loss(*paired).backward()
    assert loss.logit_scale.log_scale.grad != 0


def test_temperature_stays_clamped_after_a_step_past_the_bound():
    # a == b: each row's match is its most similar item, so a sharper softmax always lowers the loss
    a = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    loss = InfoNCELoss(init_temperature=0.02, min_temperature=0.01)
    optimiser = torch.optim.Adam(loss.parameters(), lr=1.0)
    loss(a, a).backward()
    optimiser.step()
    assert loss.logit_scale.log_scale.item() > math.log(100)  # the step went past the bound
    assert loss.temperature == pytest.approx(0.01)
    at_bound = InfoNCELoss(init_temperature=0.01, learnable=False)(a, a)
    optimiser.zero_grad()
    torch.testing.assert_close(loss(a, a), at_bound)
    assert loss.logit_scale.log_scale.item() == pytest.approx(math.log(100))  # projected back
    # not stuck at the bound: mismatched pairs ask for a softer softmax, and that gradient gets through
    loss(a, a.roll(1, dims=0)).backward()
    assert loss.logit_scale.log_scale.grad > 0


def test_temperature_is_clamped_from_above_too():
    loss = InfoNCELoss(init_temperature=0.5, max_temperature=1.0)
    with torch.no_grad():
        loss.logit_scale.log_scale.fill_(-3.0)
    assert loss.temperature == pytest.approx(1.0)


def test_initial_temperature_outside_the_bounds_is_rejected():
    with pytest.raises(ValueError, match="within"):
        InfoNCELoss(init_temperature=0.005)


def test_batch_of_one_is_zero():
    a, b = torch.randn(1, 4, requires_grad=True), torch.randn(1, 4)
    value = InfoNCELoss()(a, b)
    value.backward()
    assert value == 0 and torch.isfinite(a.grad).all()


def test_gradcheck(double):
    a, b = double(5, 3, seed=1), double(5, 3, seed=2)
    assert torch.autograd.gradcheck(lambda p, q: fixed(label_smoothing=0.1)(p, q), (a, b))
    labels = torch.tensor([0, 0, 1, 2, 2])
    assert torch.autograd.gradcheck(lambda p, q: fixed()(p, q, labels=labels), (a, b))


def test_training_aligns_pairs(fit):
    result = fit(InfoNCELoss(), paired=True)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9
