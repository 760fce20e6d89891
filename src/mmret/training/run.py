"""The `mmret train CONFIG.yaml` and `mmret tune CONFIG.yaml` entry points, and their Python form.

A training run writes to the config's output directory: config.yaml (as run), checkpoint.pt (resumed from
when the same config runs again), history.json (per-epoch loss and validation metrics), features/ (the cached
tower features, unless cache_dir says elsewhere) and model/, the saved model that `--model` accepts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..encoders.devices import torch_device
from ..encoders.offline import OfflineEncoder
from .config import TrainConfig, TrainingConfig, load_config, save_config
from .experiment import fit, load_towers, prepare_data
from .saved import save_model
from .trainer import TrainResult, early_stop_note
from .tune import check_space, format_trials, tune


@dataclass
class TrainedRun:
    model_dir: Path
    result: TrainResult


def train(config: TrainConfig, progress: bool = False, encoder: OfflineEncoder | None = None,
          device: str = "cpu") -> TrainedRun:
    """Train as `config` says (resuming its checkpoint if there is one) on `device` and save the model; `encoder`
    reuses an already loaded base encoder. Tower features are cached and prepared on the CPU."""
    torch_device(device)  # an unavailable device fails before the data are prepared
    towers = load_towers(config.model, encoder)
    data = prepare_data(config, towers, progress)
    run_dir = config.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")
    model, result = fit(config, data, run_dir / "checkpoint.pt", progress, device)
    (run_dir / "history.json").write_text(json.dumps({"untrained": result.initial, "epochs": result.history},
                                                     indent=2), encoding="utf-8")
    return TrainedRun(save_model(run_dir / "model", model, config, result, towers.encoder), result)


def train_from_config(path: str | Path, progress: bool = True, overrides: dict | None = None,
                      device: str = "cpu") -> Path:
    """Train from a YAML config (with `overrides` of dotted field names, see load_config), print the validation
    metrics before and after, and return the model directory."""
    config = load_config(path, overrides)
    run = train(config, progress, device=device)
    print(format_validation(run.result, config.training))
    return run.model_dir


def tune_from_config(path: str | Path, progress: bool = True, overrides: dict | None = None,
                     device: str = "cpu") -> Path:
    """Run the config's hyperparameter search, print its table, and return the folder of its results
    (trials.csv, trials.json, best-config.yaml, study.db)."""
    config = load_config(path, overrides)
    check_space(config)  # before the data are prepared
    torch_device(device)  # an unavailable device fails before the data are prepared
    result = tune(config, prepare_data(config, load_towers(config.model), progress), progress, device)
    print(format_trials(result.rows, config.tune.space, config.tune.metric or config.training.monitor))
    return result.directory


def format_validation(result: TrainResult, training: TrainingConfig | None = None) -> str:
    """Validation before and after training; says so when training stopped early (with `training`, its settings)."""
    metrics = ("R@1", "R@5", "R@10")
    lines = [f"{'':<22}" + "".join(f"{task + ' ' + m:>18}" for task in result.validation for m in metrics)]
    for label, results in (("untrained", result.initial), (f"trained (epoch {result.best_epoch})", result.validation)):
        lines.append(f"{label:<22}" + "".join(f"{results[task][m]:>18.3f}" for task in results for m in metrics))
    if result.stopped_early and training is not None:
        lines.append(early_stop_note(len(result.history), training.epochs, training.patience, training.monitor,
                                     result.best_epoch))
    return "\n".join(lines)
