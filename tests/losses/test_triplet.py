"""TripletLoss and its miners. Oracle: pytorch-metric-learning's TripletMarginLoss on the same embeddings,
with the matching distance (LpDistance on normalised vectors, or CosineSimilarity for 1 - cos) and triplets:
no miner (all triplets), BatchHardMiner, or TripletMarginMiner("semihard"). Our "mean_nonzero" reduction is
compared with pml's default AvgNonZeroReducer, our "mean" with pml's MeanReducer."""
import pytest
import torch
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses
from pytorch_metric_learning import miners as pml_miners
from pytorch_metric_learning import reducers

from mmret.losses import AllTripletsMiner, BatchHardMiner, SemiHardMiner, TripletLoss
from mmret.losses.distances import distance_matrix
from mmret.losses.pairs import make_pairs

MARGIN = 0.3


def pml_triplet(distance: str, miner: str, reduction: str):
    """pml's triplet loss as a function (x, labels, ref_emb, ref_labels) configured like ours."""
    pml_distance = pml_distances.LpDistance() if distance == "euclidean" else pml_distances.CosineSimilarity()
    reducer = reducers.MeanReducer() if reduction == "mean" else reducers.AvgNonZeroReducer()
    loss = pml_losses.TripletMarginLoss(margin=MARGIN, distance=pml_distance, reducer=reducer)
    pml_miner = {
        "all": None,
        "batch_hard": pml_miners.BatchHardMiner(distance=pml_distance),
        "semi_hard": pml_miners.TripletMarginMiner(MARGIN, type_of_triplets="semihard", distance=pml_distance),
    }[miner]

    def call(x, labels, ref_emb=None, ref_labels=None):
        triplets = pml_miner(x, labels, ref_emb, ref_labels) if pml_miner else None
        return loss(x, labels, triplets, ref_emb, ref_labels)

    return call


@pytest.mark.parametrize("reduction", ["mean", "mean_nonzero"])
@pytest.mark.parametrize("miner", ["all", "batch_hard", "semi_hard"])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_single_batch_matches_pml(labelled, distance, miner, reduction):
    x, labels = labelled
    ours = TripletLoss(MARGIN, distance, miner, reduction)(x, labels=labels)
    expected = pml_triplet(distance, miner, reduction)(x, labels)
    assert ours > 0
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=0)


@pytest.mark.parametrize("miner", ["all", "batch_hard", "semi_hard"])
def test_matched_pairs_match_pml_in_each_direction(paired, miner):
    a, b = paired
    identity = torch.arange(len(a))
    oracle = pml_triplet("euclidean", miner, "mean")
    # a distinct ref_labels object: pml drops the diagonal pairs when ref_labels *is* labels
    a_to_b = oracle(a, identity, b, identity.clone())
    b_to_a = oracle(b, identity, a, identity.clone())
    one_way = TripletLoss(MARGIN, miner=miner, reduction="mean", symmetric=False)
    both_ways = TripletLoss(MARGIN, miner=miner, reduction="mean")
    torch.testing.assert_close(one_way(a, b), a_to_b, rtol=1e-5, atol=0)
    torch.testing.assert_close(both_ways(a, b), (a_to_b + b_to_a) / 2, rtol=1e-5, atol=0)


def mined(miner, labelled):
    x, labels = labelled
    pairs = make_pairs(x, labels=labels)
    distances = distance_matrix(x, x, "euclidean")
    return distances, pairs, miner(distances, pairs.positive, pairs.valid & ~pairs.positive)


def test_all_miner_yields_every_triplet_once(labelled):
    _, pairs, (anchors, positives, negatives) = mined(AllTripletsMiner(), labelled)
    assert len(anchors) == 32 * 3 * 28
    assert len(set(zip(anchors.tolist(), positives.tolist(), negatives.tolist()))) == len(anchors)
    assert pairs.positive[anchors, positives].all()
    assert (pairs.valid & ~pairs.positive)[anchors, negatives].all()


def test_batch_hard_miner_picks_farthest_positive_and_nearest_negative(labelled):
    distances, pairs, (anchors, positives, negatives) = mined(BatchHardMiner(), labelled)
    assert anchors.tolist() == list(range(32))
    farthest = distances.masked_fill(~pairs.positive, 0).amax(1)
    nearest = distances.masked_fill(pairs.positive | ~pairs.valid, 9).amin(1)
    assert torch.equal(distances[anchors, positives], farthest)
    assert torch.equal(distances[anchors, negatives], nearest)


def test_semi_hard_miner_keeps_negatives_beyond_the_positive_within_the_margin(labelled):
    distances, _, everything = mined(AllTripletsMiner(), labelled)
    _, _, (anchors, positives, negatives) = mined(SemiHardMiner(MARGIN), labelled)
    to_positive, to_negative = distances[anchors, positives], distances[anchors, negatives]
    assert len(anchors) > 0
    assert ((to_positive < to_negative) & (to_negative < to_positive + MARGIN)).all()
    all_ap, all_an = distances[everything[0], everything[1]], distances[everything[0], everything[2]]
    assert len(anchors) == int(((all_ap < all_an) & (all_an < all_ap + MARGIN)).sum())


def test_a_miner_module_can_be_passed_in(labelled):
    x, labels = labelled
    by_name = TripletLoss(miner="batch_hard")(x, labels=labels)
    torch.testing.assert_close(TripletLoss(miner=BatchHardMiner())(x, labels=labels), by_name)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3]], ids=["one class", "all distinct"])
@pytest.mark.parametrize("miner", ["all", "batch_hard", "semi_hard"])
def test_no_valid_triplet_gives_zero_with_a_zero_gradient(miner, labels):
    x = torch.randn(4, 3, requires_grad=True)
    value = TripletLoss(miner=miner)(x, labels=torch.tensor(labels))
    value.backward()
    assert value == 0 and torch.equal(x.grad, torch.zeros_like(x))


def test_no_violating_triplet_gives_zero():
    x = torch.tensor([[1.0, 0], [1.0, 0.01], [-1.0, 0], [-1.0, 0.01]])
    assert TripletLoss()(x, labels=torch.tensor([0, 0, 1, 1])) == 0


def test_batch_of_one_has_no_triplet():
    a, b = torch.randn(1, 3, requires_grad=True), torch.randn(1, 3)
    value = TripletLoss()(a, b)
    value.backward()
    assert value == 0 and torch.equal(a.grad, torch.zeros_like(a))


@pytest.mark.parametrize("miner", ["all", "batch_hard", "semi_hard"])
def test_gradcheck(double, miner):
    loss = TripletLoss(margin=1.0, miner=miner, reduction="mean")
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    a, b = double(6, 3, seed=1), double(6, 3, seed=2)
    assert torch.autograd.gradcheck(lambda x: loss(x, labels=labels), (a,))
    assert torch.autograd.gradcheck(lambda p, q: loss(p, q), (a, b))


@pytest.mark.parametrize("miner", ["all", "batch_hard", "semi_hard"])
@pytest.mark.parametrize("paired_problem", [False, True])
def test_training_separates_classes(fit, miner, paired_problem):
    result = fit(TripletLoss(miner=miner), paired=paired_problem)
    assert result.last_loss < 0.5 * result.first_loss
    assert result.accuracy_before < 0.5 and result.accuracy_after >= 0.9


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="unknown miner 'hardest'"):
        TripletLoss(miner="hardest")
    with pytest.raises(ValueError, match="unknown reduction 'sum'"):
        TripletLoss(reduction="sum")
