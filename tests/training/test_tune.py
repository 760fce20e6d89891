"""Hyperparameter search: each sampler runs its trials on the small problem and writes its table; parameters
map onto the config only where the trial's loss takes them; a finished search resumes without retraining."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mmret.training.config import ConfigError, load_config
from mmret.training.tune import apply_params, check_space, format_trials, tune

pytest.importorskip("optuna")

SPACES = {
    "grid": {"lr": [1e-3, 3e-3], "loss": ["infonce", "vsepp"], "margin": [0.2]},
    "random": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "loss": ["infonce", "triplet"],
               "temperature": {"low": 0.02, "high": 0.1}, "miner": ["batch_hard", "semi_hard"]},
    "tpe": {"lr": {"low": 1e-4, "high": 1e-2, "log": True}, "hidden": [0, 64]},
}


@pytest.mark.parametrize("sampler", sorted(SPACES))
def test_each_sampler_runs_its_trials_and_writes_the_table(sampler, small_problem, make_config):
    _, data = small_problem
    config = make_config({"training": {"epochs": 2},
                          "tune": {"sampler": sampler, "trials": 3, "space": SPACES[sampler]}})
    result = tune(config, data)
    with open(result.directory / "trials.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(result.rows) == 3
    assert all(row["state"] == "complete" for row in rows)
    values = [float(row["value"]) for row in rows]
    assert result.best["value"] == max(values)
    assert json.loads((result.directory / "trials.json").read_text()) == result.rows
    best = load_config(result.directory / "best-config.yaml")
    assert best.optimizer.lr == pytest.approx(result.best["lr"])
    assert "t2i R@5" in format_trials(result.rows, config.tune.space, "text->image R@5")


def test_grid_covers_its_grid_and_a_finished_search_resumes_without_training(small_problem, make_config, monkeypatch):
    _, data = small_problem
    config = make_config({"training": {"epochs": 1},
                          "tune": {"sampler": "grid", "trials": 10, "space": {"lr": [1e-3, 3e-3], "hidden": [0, 32]}}})
    result = tune(config, data)
    assert sorted((row["lr"], row["hidden"]) for row in result.rows) == [(1e-3, 0), (1e-3, 32), (3e-3, 0), (3e-3, 32)]
    monkeypatch.setattr("mmret.training.tune.fit", lambda *args, **kwargs: pytest.fail("retrained"))
    assert tune(config, data).rows == result.rows


def test_parameters_apply_only_to_the_losses_that_take_them(make_config):
    config = make_config({"loss": {"name": "infonce", "options": {"init_temperature": 0.07, "symmetric": False}}})
    infonce = apply_params(config, {"temperature": 0.03, "margin": 0.4, "lr": 0.01, "hidden": 256})
    assert infonce.loss.options == {"init_temperature": 0.03, "symmetric": False}
    assert infonce.optimizer.lr == 0.01 and infonce.model.image_head == "mlp" and infonce.model.hidden == 256
    triplet = apply_params(config, {"loss": "triplet", "temperature": 0.03, "margin": 0.4, "miner": "semi_hard"})
    assert triplet.loss.name == "triplet" and triplet.loss.options == {"margin": 0.4, "miner": "semi_hard"}
    assert apply_params(config, {"hidden": 0}).model.image_head == "linear"


def _no_training(monkeypatch, value=0.5):
    results = {task: dict.fromkeys(("R@1", "R@5", "R@10"), value) for task in ("text->image", "image->text")}
    monkeypatch.setattr("mmret.training.tune.fit", lambda *args, **kwargs: (None, SimpleNamespace(
        validation=results, best_epoch=1)))


def test_a_space_value_that_cannot_run_with_the_config_fails_before_trial_0(make_config, monkeypatch):
    """Issue 10 defect 1: hidden > 0 makes an mlp head, which init: bridge cannot start from."""
    monkeypatch.setattr("mmret.training.tune.fit", lambda *args, **kwargs: pytest.fail("trained a trial"))
    config = make_config({"model": {"init": "bridge"}, "tune": {"sampler": "grid", "space": {"hidden": [0, 512]}}})
    with pytest.raises(ConfigError, match=r"tune.space.hidden: 512 cannot run with this config: init: bridge needs"):
        tune(config, data=None)
    assert not (config.run_dir / "tune").exists()


def test_the_shipped_config_search_space_fits_its_config():
    check_space(load_config(Path(__file__).resolve().parents[2] / "configs" / "train_offline_heads.yaml"))


def test_a_trial_whose_combination_is_invalid_is_pruned_with_its_reason(make_config, monkeypatch):
    """0.005 is a fine smooth_ap temperature but below infonce's minimum: that one pair of choices is pruned."""
    _no_training(monkeypatch)
    config = make_config({"tune": {"sampler": "grid", "trials": 4,
                                   "space": {"loss": ["infonce", "smooth_ap"], "temperature": [0.005, 0.05]}}})
    result = tune(config, data=None)
    states = {(row["loss"], row["temperature"]): (row["state"], row["pruned"]) for row in result.rows}
    state, reason = states[("infonce", 0.005)]
    assert state == "pruned" and "must be positive and within" in reason
    assert [s for s, _ in states.values()].count("complete") == 3
    assert "pruned: options: initial scale" in format_trials(result.rows, config.tune.space, "text->image R@5")
