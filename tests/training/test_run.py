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
