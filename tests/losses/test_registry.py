"""build_loss and the call convention every registered loss follows."""
import pytest
import torch

from mmret import losses

LABELLED_BATCH = {"contrastive", "triplet", "smooth_ap", "listnet"}


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_build_loss_constructs_the_registered_class_with_its_arguments(name):
    assert type(losses.build_loss(name)) is losses.LOSSES[name]


def test_build_loss_passes_arguments_on():
    loss = losses.build_loss("triplet", margin=0.5, miner="batch_hard")
    assert loss.margin == 0.5 and isinstance(loss.miner, losses.BatchHardMiner)


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown loss 'arcface'; choose from \['contrastive', "):
        losses.build_loss("arcface")


@pytest.mark.parametrize("n", [1, 6])
@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_takes_matched_pairs(name, n):
    a, b = torch.randn(n, 5, requires_grad=True), torch.randn(n, 5, requires_grad=True)
    value = losses.build_loss(name)(a, b)
    value.backward()
    assert value.shape == () and torch.isfinite(value)
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_takes_labelled_pairs(name):
    a, b = torch.randn(6, 5), torch.randn(6, 5)
    loss = losses.build_loss(name, **({"learnable": False} if name in {"infonce", "sigmoid"} else {}))
    torch.testing.assert_close(loss(a, b, labels=torch.arange(6)), loss(a, b))


@pytest.mark.parametrize("name", sorted(LABELLED_BATCH))
def test_labelled_batch_form(name):
    x = torch.randn(6, 5, requires_grad=True)
    value = losses.build_loss(name)(x, labels=torch.tensor([0, 0, 1, 1, 2, 2]))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
