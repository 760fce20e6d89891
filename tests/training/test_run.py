"""The entry points behind `mmret train CONFIG.yaml` and `mmret tune CONFIG.yaml`, from a YAML file."""
from __future__ import annotations

import pytest
import yaml

from mmret.training import is_trained_model_dir, train_from_config, tune_from_config

pytest.importorskip("optuna")


def write_config(base_config: dict, tmp_path, **sections) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**base_config, "output": str(tmp_path / "run"), **sections}))
    return str(path)


def test_train_from_config_saves_a_model_and_prints_its_figures(base_config, small_problem, tmp_path, capsys):
    path = write_config(base_config, tmp_path, training={**base_config["training"], "epochs": 2})
    model_dir = train_from_config(path, progress=False)
    assert is_trained_model_dir(model_dir) and model_dir == tmp_path / "run" / "model"
    printed = capsys.readouterr().out
    assert "untrained" in printed and "text->image R@5" in printed


def test_tune_from_config_writes_its_table(base_config, small_problem, tmp_path, capsys):
    path = write_config(base_config, tmp_path, training={**base_config["training"], "epochs": 1},
                        tune={"sampler": "grid", "trials": 2, "space": {"lr": [1e-3, 1e-2]}})
    directory = tune_from_config(path, progress=False)
    assert {p.name for p in directory.iterdir()} >= {"trials.csv", "trials.json", "best-config.yaml", "study.db"}
    assert "objective: text->image R@5" in capsys.readouterr().out


def test_an_early_stop_is_reported_with_its_reason():
    """Issue 10 defect 11: training that stops before its last epoch says so, and which epoch it keeps."""
    from mmret.training.config import TrainingConfig
    from mmret.training.run import format_validation
    from mmret.training.trainer import TrainResult

    results = {"text->image": {"R@1": 0.1, "R@5": 0.3, "R@10": 0.4}}
    history = [{"epoch": e, "results": results} for e in range(1, 8)]
    stopped = TrainResult(results, 2, results, history, 70, True, 1.0, 100)
    table = format_validation(stopped, TrainingConfig(epochs=60, patience=5))
    assert "stopped early after epoch 7 of 60: text->image R@5 did not improve for 5 epochs" in table
    assert "keeping epoch 2" in table
    finished = TrainResult(results, 7, results, history, 70, False, 1.0, 100)
    assert "stopped early" not in format_validation(finished, TrainingConfig(epochs=7, patience=5))
