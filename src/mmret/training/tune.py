"""Hyperparameter search with Optuna (grid, random or TPE sampler) over a training config.

The config's `tune.space` maps tunable parameters to a list of choices or a {low, high, log} float range:

    lr            optimizer.lr
    loss          loss.name (a trial keeps the config's loss options only when it keeps its loss)
    temperature   the loss's temperature: infonce init_temperature, smooth_ap and listnet temperature
    margin        the loss's margin: contrastive, triplet, vsepp
    miner         the triplet loss's miner
    hidden        image head size: 0 for a linear head, else an MLP with this hidden width
    dim           the shared space's dimension (needs a text head other than identity)

A parameter the trial's loss does not take is not suggested. Before trial 0 (and before any data are prepared),
`check_space` refuses a value that cannot run with the config under any loss of the space; a trial whose drawn
combination is still invalid is pruned, with the reason in its row. The data are prepared once for all trials;
each trial trains without checkpoints and scores its best validated epoch on `tune.metric`. The study is
stored in OUTPUT/tune/study.db, so an interrupted search resumes with the trials it still lacks, and a
trial whose effective config repeats an earlier one (a grid over a parameter its loss ignores) is not retrained.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, MissingPackage
from .config import TrainConfig, save_config
from .experiment import PreparedData, fingerprint, fit
from .mapping import ConfigError, FieldError
from .validation import metric_value

if TYPE_CHECKING:
    import optuna

INSTALL_HINT = "hyperparameter search needs Optuna: pip install optuna"

TEMPERATURE_OPTION = {"infonce": "init_temperature", "smooth_ap": "temperature", "listnet": "temperature"}
MARGIN_LOSSES = ("contrastive", "triplet", "vsepp")
TASK_METRICS = [(task, metric) for task in ("text->image", "image->text") for metric in ("R@1", "R@5", "R@10")]
RESULT_COLUMNS = [f"{task} {metric}" for task, metric in TASK_METRICS]


@dataclass
class TuneResult:
    directory: Path
    rows: list[dict]  # one per trial, in trial order
    best: dict  # the best trial's row
    best_config: TrainConfig


def tune(config: TrainConfig, data: PreparedData, progress: bool = False, device: str = "cpu") -> TuneResult:
    optuna = _import_optuna()
    check_space(config)
    directory = config.run_dir / "tune"
    directory.mkdir(parents=True, exist_ok=True)
    metric = config.tune.metric or config.training.monitor
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=f"sqlite:///{directory / 'study.db'}", sampler=_sampler(config),
                                study_name=_study_name(config), direction="maximize", load_if_exists=True)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    seen = {t.user_attrs["fingerprint"]: t.user_attrs for t in finished}
    objective = _Objective(config, data, metric, seen, device)
    study.optimize(objective, n_trials=max(0, _budget(config) - len(finished)), catch=(FloatingPointError,),
                   show_progress_bar=progress)
    rows = [_row(trial, config.tune.space) for trial in study.trials]
    _write(directory, rows)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise BadInput(f"no trial finished; see {directory / 'trials.csv'}")
    best_config = apply_params(config, study.best_trial.params)
    save_config(best_config, directory / "best-config.yaml")
    return TuneResult(directory, rows, _row(study.best_trial, config.tune.space), best_config)


class _Objective:
    def __init__(self, config: TrainConfig, data: PreparedData, metric: str, seen: dict, device: str):
        self.config, self.data, self.metric, self.seen, self.device = config, data, metric, seen, device

    def __call__(self, trial: optuna.Trial) -> float:
        params = suggest(trial, self.config.tune.space)
        try:
            trial_config = apply_params(self.config, params)
        except (ConfigError, FieldError) as error:
            reason = _reason(error)
            trial.set_user_attr("pruned", reason)
            raise _import_optuna().TrialPruned(reason) from None
        key = fingerprint(trial_config)
        if key not in self.seen:
            started = time.perf_counter()
            _, result = fit(trial_config, self.data, device=self.device)
            self.seen[key] = {"fingerprint": key, "results": result.validation, "best_epoch": result.best_epoch,
                              "seconds": round(time.perf_counter() - started, 2)}
        for name, value in self.seen[key].items():
            trial.set_user_attr(name, value)
        return metric_value(self.seen[key]["results"], self.metric)


def check_space(config: TrainConfig) -> None:
    """Raise ConfigError naming `tune.space.NAME` when one of its values cannot make a valid config with any loss
    of the space it applies to (a range is checked at both ends)."""
    space = config.tune.space
    losses = space.get("loss", [config.loss.name])
    for name, choices in space.items():
        contexts = [{}] if name == "loss" else [{"loss": loss} for loss in losses if applies(name, loss)]
        for value in choices if isinstance(choices, list) else [choices["low"], choices["high"]]:
            reasons = [_invalid(config, {**context, name: value}) for context in contexts]
            if reasons and all(reasons):
                raise ConfigError(f"tune.space.{name}: {value!r} cannot run with this config: {reasons[0]}")


def _invalid(config: TrainConfig, params: dict) -> str | None:
    try:
        apply_params(config, params)
    except (ConfigError, FieldError) as error:
        return _reason(error)
    return None


def _reason(error: Exception) -> str:
    return f"{error.name}: {error}" if isinstance(error, FieldError) else str(error)


def suggest(trial: optuna.Trial, space: dict) -> dict[str, Any]:
    """The trial's values of the parameters that apply to it (a loss that has no margin gets none)."""
    params = {}
    if "loss" in space:
        params["loss"] = _suggest(trial, "loss", space["loss"])
    for name, choices in space.items():
        if name != "loss" and applies(name, params.get("loss")):
            params[name] = _suggest(trial, name, choices)
    return params


def applies(name: str, loss: str | None) -> bool:
    """Whether a parameter means anything for a loss (None: the config's loss, decided in apply_params)."""
    if loss is None:
        return True
    return {"temperature": loss in TEMPERATURE_OPTION, "margin": loss in MARGIN_LOSSES,
            "miner": loss == "triplet"}.get(name, True)


def apply_params(config: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """The config with a trial's parameters set; a parameter the loss does not take is left out."""
    loss_name = params.get("loss", config.loss.name)
    options = dict(config.loss.options) if loss_name == config.loss.name else {}
    if "temperature" in params and loss_name in TEMPERATURE_OPTION:
        options[TEMPERATURE_OPTION[loss_name]] = params["temperature"]
    if "margin" in params and loss_name in MARGIN_LOSSES:
        options["margin"] = params["margin"]
    if "miner" in params and loss_name == "triplet":
        options["miner"] = params["miner"]
    model = config.model
    if "hidden" in params:
        model = dataclasses.replace(model, image_head="mlp" if params["hidden"] else "linear",
                                    hidden=params["hidden"] or model.hidden)
    if "dim" in params:
        model = dataclasses.replace(model, dim=params["dim"])
    optimizer = dataclasses.replace(config.optimizer, lr=params.get("lr", config.optimizer.lr))
    return dataclasses.replace(config, model=model, optimizer=optimizer,
                               loss=dataclasses.replace(config.loss, name=loss_name, options=options))


def format_trials(rows: list[dict], space: dict, metric: str) -> str:
    names = list(space)
    header = f"{'trial':>5} {'state':<9}" + "".join(f"{n:>12}" for n in names) + f"{'value':>8}" + \
        "".join(f"{c.replace('text->image', 't2i').replace('image->text', 'i2t'):>9}" for c in RESULT_COLUMNS) + \
        f"{'epoch':>6}{'s':>7}"
    lines = [f"objective: {metric}", header]
    for row in rows:
        params = "".join(f"{_short(row.get(n)):>12}" for n in names)
        results = "".join(f"{_short(row.get(c)):>9}" for c in RESULT_COLUMNS)
        lines.append(f"{row['trial']:>5} {row['state']:<9}{params}{_short(row.get('value')):>8}{results}"
                     f"{_short(row.get('best_epoch')):>6}{_short(row.get('seconds')):>7}")
    lines += [f"trial {row['trial']} pruned: {row['pruned']}" for row in rows if row.get("pruned")]
    return "\n".join(lines)


def _import_optuna():
    try:
        import optuna
    except ImportError as error:
        raise MissingPackage(INSTALL_HINT) from error
    return optuna


def _sampler(config: TrainConfig) -> optuna.samplers.BaseSampler:
    optuna = _import_optuna()
    tune = config.tune
    if tune.sampler == "grid":
        return optuna.samplers.GridSampler(dict(tune.space), seed=tune.seed)
    if tune.sampler == "random":
        return optuna.samplers.RandomSampler(seed=tune.seed)
    return optuna.samplers.TPESampler(seed=tune.seed)


def _suggest(trial: optuna.Trial, name: str, choices: Any) -> Any:
    if isinstance(choices, list):
        return trial.suggest_categorical(name, choices)
    return trial.suggest_float(name, float(choices["low"]), float(choices["high"]), log=bool(choices.get("log")))


def _row(trial: optuna.trial.FrozenTrial, space: dict) -> dict:
    row = {"trial": trial.number, "state": trial.state.name.lower(), "value": trial.value}
    row.update({name: trial.params.get(name) for name in space})
    results = trial.user_attrs.get("results")
    for (task, metric), column in zip(TASK_METRICS, RESULT_COLUMNS):
        row[column] = results[task][metric] if results else None
    row["best_epoch"] = trial.user_attrs.get("best_epoch")
    row["seconds"] = trial.user_attrs.get("seconds")
    row["pruned"] = trial.user_attrs.get("pruned")
    return row


def _budget(config: TrainConfig) -> int:
    """The number of trials to run: tune.trials, but no more than a grid has points."""
    if config.tune.sampler != "grid":
        return config.tune.trials
    return min(config.tune.trials, math.prod(len(choices) for choices in config.tune.space.values()))


def _study_name(config: TrainConfig) -> str:
    """One study per sampler and config (search space included): a changed config starts a new study."""
    settings = {k: v for k, v in config.to_dict().items() if k not in ("output", "cache_dir")}
    return f"{config.tune.sampler}-{hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]}"


def _write(directory: Path, rows: list[dict]) -> None:
    with open(directory / "trials.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]) if rows else ["trial"])
        writer.writeheader()
        writer.writerows(rows)
    (directory / "trials.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-2 or abs(value) >= 1e3 else f"{value:.3f}"
    return str(value)
