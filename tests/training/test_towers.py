"""The image tower with its last block trainable: unchanged it computes the frozen tower's features; training
moves only its own copy of the block; a saved model with it reproduces its validation figures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mmret.data.decode import read_image
from mmret.eval.benchmark import evaluate
from mmret.training import TrainedEncoder, train
from mmret.training.experiment import load_towers
from mmret.training.towers import LastBlockTower

UNFROZEN = {"model": {"unfreeze_last_block": True},
            "training": {"epochs": 1, "batch_size": 8, "threads": 0},
            "optimizer": {"lr": 1e-3, "warmup_steps": 1}}


@pytest.fixture(scope="module")
def towers(fp32_encoder, small_problem):
    return load_towers(small_problem[0].model, fp32_encoder)


@pytest.fixture(scope="module")
def pixels(towers, validation_set):
    prepare = towers.preparer()
    return np.stack([prepare(read_image(item.path)) for item in validation_set.images[:4]])


def test_the_untrained_block_computes_the_frozen_features(towers, pixels):
    tower = LastBlockTower(towers)
    with torch.no_grad():
        live = tower(torch.from_numpy(pixels)).numpy()
    assert np.allclose(live, towers.image_features(pixels), atol=1e-5)


def test_gradients_reach_only_the_trainable_copy(towers, pixels):
    tower = LastBlockTower(towers)
    frozen = towers.encoder.image_network
    tower(torch.from_numpy(pixels)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in tower.block.parameters())
    assert all(p.grad is None for p in frozen.parameters())
    assert {name.split(".")[0] for name in tower.state_dict()} == {"block", "conv_head", "bn"}


def test_training_the_block_and_reloading_it(make_config, fp32_encoder, validation_set, base_config):
    flickr = base_config["data"]["train"][0].split("[")[0]
    config = make_config({**UNFROZEN, "data": {"train": [f"{flickr}[0:16]"]}})
    frozen = {k: v.clone() for k, v in fp32_encoder.image_network.state_dict().items()}
    run = train(config, encoder=fp32_encoder)
    assert run.result.steps == 2
    assert all(torch.equal(v, fp32_encoder.image_network.state_dict()[k]) for k, v in frozen.items())
    encoder = TrainedEncoder(run.model_dir)
    block = encoder.model.image_tower.block.state_dict()
    assert any(not torch.equal(v, frozen[f"_blocks.15.{k}"]) for k, v in block.items() if v.is_floating_point())
    evaluated = evaluate(encoder, validation_set, progress=False)["results"]
    recorded = run.result.validation
    for task in recorded:
        assert evaluated[task] == pytest.approx(recorded[task], abs=1e-9)
