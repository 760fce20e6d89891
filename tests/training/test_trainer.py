"""The trainer on a small real problem (flickr8k-500: 48 images to train, 16 to validate), on cached features:
it learns, it is deterministic, it resumes to the very same weights, and it stops early when told."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from mmret.losses import InfoNCELoss
from mmret.training import experiment
from mmret.training.experiment import fit
from mmret.training.fused_model import build_trained_model
from mmret.training.validation import Validator, retrieval_results

KS = ("R@1", "R@5", "R@10")


def weights(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_beats_the_untrained_bridge_on_the_training_set(small_problem, make_config):
    _, data = small_problem
    model, result = fit(make_config({"training": {"epochs": 8}}), data)
    images, texts = data.images.features[:, 0], data.texts.features[:, 0]
    training_set = Validator(torch.from_numpy(images), torch.from_numpy(texts), data.train.relevance())
    trained = training_set(model)
    bridge = retrieval_results(images[:, -texts.shape[1]:], texts, data.train.relevance())  # ConSE vs text
    for task in trained:
        for k in KS[:2]:
            assert trained[task][k] > bridge[task][k] + 0.1, (task, k, trained[task][k], bridge[task][k])
    assert result.validation["text->image"]["R@5"] > result.initial["text->image"]["R@5"]
    assert result.best_epoch > 0 and result.steps == 8 * 3 and result.pairs == 8 * 48


def test_same_seed_same_weights_other_seed_other_weights(small_problem, make_config):
    _, data = small_problem
    config = make_config({"training": {"epochs": 2}, "model": {"dropout": 0.1}})
    first, second = fit(config, data)[0], fit(config, data)[0]
    assert same_weights(weights(first), weights(second))
    reseeded = dataclasses.replace(config, training=dataclasses.replace(config.training, seed=1))
    assert not same_weights(weights(first), weights(fit(reseeded, data)[0]))


class Interrupt(InfoNCELoss):
    """InfoNCE that raises KeyboardInterrupt at its n-th call, as a Ctrl-C in the middle of a run."""

    calls_until_interrupt = 0

    def forward(self, *args, **kwargs):
        Interrupt.calls_until_interrupt -= 1
        if Interrupt.calls_until_interrupt == 0:
            raise KeyboardInterrupt
        return super().forward(*args, **kwargs)


def test_resume_after_interruption_gives_the_uninterrupted_weights(small_problem, make_config, tmp_path, monkeypatch):
    _, data = small_problem
    config = make_config({"training": {"epochs": 4, "checkpoint_every": 2}, "model": {"dropout": 0.1}})
    model, result = fit(config, data, tmp_path / "straight.pt")
    assert (tmp_path / "straight.pt").is_file()

    monkeypatch.setattr(experiment, "build_loss", lambda name, **options: Interrupt(**options))
    Interrupt.calls_until_interrupt = 8  # 3 steps an epoch: dies in epoch 3, after the checkpoint of step 6
    with pytest.raises(KeyboardInterrupt):
        fit(config, data, tmp_path / "interrupted.pt")
    assert torch.load(tmp_path / "interrupted.pt", weights_only=True)["state"]["step"] == 6
    resumed, resumed_result = fit(config, data, tmp_path / "interrupted.pt")

    assert same_weights(weights(model), weights(resumed))
    assert resumed_result.history == result.history and resumed_result.validation == result.validation


def test_a_checkpoint_of_another_config_is_refused(small_problem, make_config, tmp_path):
    _, data = small_problem
    fit(make_config({"training": {"epochs": 1, "checkpoint_every": 1}}), data, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="another configuration"):
        fit(make_config({"training": {"epochs": 2, "checkpoint_every": 1}}), data, tmp_path / "c.pt")


def test_early_stopping_keeps_the_best_weights(small_problem, make_config):
    _, data = small_problem
    config = make_config({"optimizer": {"lr": 1e-9}, "training": {"epochs": 10, "patience": 2}})
    torch.manual_seed(config.training.seed)
    untrained = weights(build_trained_model(config, data.towers))  # as fit builds it, from the same seed
    model, result = fit(config, data)
    assert result.stopped_early and len(result.history) == 2 and result.best_epoch == 0
    assert same_weights(weights(model), untrained) and result.validation == result.initial


def test_accumulation_clipping_and_bf16_autocast(small_problem, make_config):
    _, data = small_problem
    config = make_config({"training": {"epochs": 6, "accumulation_steps": 3, "bf16": True},
                          "optimizer": {"grad_clip": 0.5, "lr": 1e-2, "warmup_steps": 1}})
    _, result = fit(config, data)
    assert result.steps == 6  # 3 micro-batches an epoch make one step
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in result.history)
    assert result.validation["text->image"]["R@5"] > result.initial["text->image"]["R@5"]
