import pytest
import torch
import torch.nn.functional as F

from mmret.losses.distances import distance_matrix, paired_distance


def test_euclidean_is_distance_between_normalised_vectors(double):
    q, g = double(5, 3, seed=1), double(4, 3, seed=2)
    expected = torch.cdist(F.normalize(q, dim=1), F.normalize(g, dim=1))
    torch.testing.assert_close(distance_matrix(q, g, "euclidean"), expected)


def test_cosine_distance_is_one_minus_cosine(double):
    q, g = double(5, 3, seed=1), double(4, 3, seed=2)
    expected = 1 - F.cosine_similarity(q[:, None], g[None], dim=2)
    torch.testing.assert_close(distance_matrix(q, g, "cosine"), expected)


@pytest.mark.parametrize("kind", ["euclidean", "cosine"])
def test_paired_distance_is_the_diagonal(double, kind):
    a, b = double(5, 3, seed=1), double(5, 3, seed=2)
    torch.testing.assert_close(paired_distance(a, b, kind), distance_matrix(a, b, kind).diagonal())


def test_gradient_is_finite_for_identical_vectors(double):
    x = double(4, 3)
    distance_matrix(x, x, "euclidean").sum().backward()
    assert torch.isfinite(x.grad).all()


def test_unknown_distance_is_rejected():
    from mmret.losses import ContrastiveLoss

    with pytest.raises(ValueError, match="unknown distance 'manhattan'"):
        ContrastiveLoss(distance="manhattan")
