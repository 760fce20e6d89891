import pytest
import torch

from mmret.losses.pairs import make_pairs, mean_or_zero, over_directions


def test_matched_pairs_match_only_their_own_row():
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    pairs = make_pairs(a, b)
    assert pairs.queries is a and pairs.gallery is b
    assert torch.equal(pairs.positive, torch.eye(3, dtype=torch.bool))
    assert pairs.valid.all()


def test_labelled_pairs_match_by_label():
    labels = torch.tensor([0, 1, 0])
    pairs = make_pairs(torch.randn(3, 2), torch.randn(3, 2), labels)
    assert pairs.positive.tolist() == [[True, False, True], [False, True, False], [True, False, True]]
    assert pairs.valid.all()


def test_single_batch_never_pairs_an_item_with_itself():
    x = torch.randn(3, 2)
    pairs = make_pairs(x, labels=torch.tensor([0, 0, 1]))
    assert pairs.gallery is x
    assert pairs.positive.tolist() == [[False, True, False], [True, False, False], [False, False, False]]
    assert not pairs.valid.diagonal().any() and pairs.valid.sum() == 6


@pytest.mark.parametrize(
    "args, message",
    [
        ((torch.randn(3, 2),), "needs labels"),
        ((torch.randn(3, 2), torch.randn(4, 2)), "same shape"),
        ((torch.randn(3, 2), None, torch.tensor([0, 1])), r"labels must have shape \(3,\)"),
        ((torch.randn(3),), r"\(n, d\) batch"),
        ((torch.randn(0, 2), torch.randn(0, 2)), r"\(n, d\) batch"),
    ],
)
def test_bad_input_is_rejected(args, message):
    with pytest.raises(ValueError, match=message):
        make_pairs(*args)


def test_over_directions_averages_with_the_transpose():
    scores = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    pairs = make_pairs(torch.randn(2, 2), torch.randn(2, 2))
    first_row = lambda s, positive, valid: s[0].sum()
    assert over_directions(first_row, scores, pairs, both=False) == 3
    assert over_directions(first_row, scores, pairs, both=True) == (3 + 4) / 2


def test_mean_or_zero_of_nothing_is_a_differentiable_zero():
    x = torch.randn(3, requires_grad=True)
    value = mean_or_zero(x[x > 10])
    value.backward()
    assert value == 0 and torch.equal(x.grad, torch.zeros(3))
