"""Training configuration: a YAML file mapped onto typed dataclasses, with errors that name the bad field.

Every section and field has a default except `data`; see configs/train_offline_heads.yaml for a full example.
Unknown fields are errors (a typo must not silently fall back to a default).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..encoders.registry import OFFLINE_MODELS
from ..encoders.text_towers import TEXT_TOWERS
from ..errors import BadInput
from ..eval.benchmark import REPORTED_METRICS
from ..eval.metrics import LOWER_IS_BETTER
from ..fusion import FUSIONS, build_fusion
from ..losses import LOSSES, build_loss
from ..losses.triplet import MINERS
from .dataspec import DataSpec
from .mapping import ConfigError, FieldError, from_data, require, to_data

TASKS = ("text->image", "image->text")
IMAGE_INPUTS = ("pooled", "conse")
HEADS = ("identity", "linear", "mlp")
PRECISIONS = ("fp32", "bf16")
INITS = ("random", "bridge")
SAMPLERS = ("grid", "random", "tpe")
TUNABLE = ("lr", "temperature", "margin", "loss", "miner", "hidden", "dim")


def check_metric(name: str) -> str:
    """A validation metric name such as "text->image R@5"."""
    task, _, metric = name.partition(" ")
    if task not in TASKS or metric not in REPORTED_METRICS:
        raise BadInput(f"{name!r} is not a metric like 'text->image R@5' (tasks {TASKS}, metrics {REPORTED_METRICS})")
    if metric in LOWER_IS_BETTER:  # early stopping and tuning maximise the monitored metric
        raise BadInput(f"{name!r}: lower is better for {metric}; monitor a metric to maximise, such as R@5 or mAP")
    return name


@dataclass(frozen=True)
class DataConfig:
    train: tuple[DataSpec, ...]
    validation: DataSpec
    captions_per_image: int | None = None  # train on each image's first N captions only; None: all

    def __post_init__(self) -> None:
        require(len(self.train) > 0, "train", "needs at least one data spec")
        require(self.captions_per_image is None or self.captions_per_image >= 1, "captions_per_image",
                f"must be >= 1 or null, got {self.captions_per_image}")


@dataclass(frozen=True)
class ModelConfig:
    base: str = "offline"
    precision: str = "fp32"  # of the frozen towers; recorded so a saved model reproduces its features
    image_inputs: tuple[str, ...] = IMAGE_INPUTS  # image tower features fed to the image head
    image_head: str = "linear"
    text_head: str = "identity"  # identity: LiT-style, the text tower's space is the shared space
    dim: int | None = None  # the shared space; None: the text tower's width (needed with an identity text head)
    hidden: int = 1024  # width of an mlp head's hidden layer
    dropout: float = 0.0
    # random, or bridge: linear heads that start as the ConSE bridge (image head: conse features -> themselves,
    # text head: identity), so training starts from the untrained encoder's space instead of from noise
    init: str = "random"
    unfreeze_last_block: bool = False

    def __post_init__(self) -> None:
        require(self.base in OFFLINE_MODELS, "base",
                f"only the offline models {sorted(OFFLINE_MODELS)} have trainable towers so far, got {self.base!r}")
        if self.dim is None:
            object.__setattr__(self, "dim", TEXT_TOWERS[OFFLINE_MODELS[self.base]["text_tower"]].dim)
        require(self.precision in PRECISIONS, "precision", f"must be one of {PRECISIONS}, got {self.precision!r}")
        require(bool(self.image_inputs) and set(self.image_inputs) <= set(IMAGE_INPUTS)
                 and len(set(self.image_inputs)) == len(self.image_inputs),
                 "image_inputs", f"must be distinct names from {IMAGE_INPUTS}, got {list(self.image_inputs)}")
        for name in ("image_head", "text_head"):
            require(getattr(self, name) in HEADS, name, f"must be one of {HEADS}, got {getattr(self, name)!r}")
        require(self.image_head != "identity", "image_head", "the image features need a trained head")
        require(self.dim > 0, "dim", f"must be positive, got {self.dim}")
        require(self.hidden > 0, "hidden", f"must be positive, got {self.hidden}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.init in INITS, "init", f"must be one of {INITS}, got {self.init!r}")
        if self.init == "bridge":
            text_dim = TEXT_TOWERS[OFFLINE_MODELS[self.base]["text_tower"]].dim
            require("conse" in self.image_inputs and self.image_head == "linear" and self.text_head != "mlp"
                     and self.dim == text_dim, "init",
                     f"bridge needs conse among image_inputs, a linear image head, an identity or linear text head "
                     f"and dim {text_dim} (the text tower's)")


@dataclass(frozen=True)
class LossConfig:
    name: str = "infonce"
    options: dict = field(default_factory=dict)  # constructor arguments of the loss

    def __post_init__(self) -> None:
        try:
            build_loss(self.name, **self.options)
        except TypeError as error:
            raise FieldError("options", str(error)) from error
        except ValueError as error:
            raise FieldError("name" if "unknown loss" in str(error) else "options", str(error)) from error


@dataclass(frozen=True)
class OptimizerConfig:
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 20
    min_lr_ratio: float = 0.0  # the cosine schedule's floor, as a fraction of lr
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off

    def __post_init__(self) -> None:
        require(self.lr > 0, "lr", f"must be positive, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(all(0 <= b < 1 for b in self.betas), "betas", f"must be in [0, 1), got {list(self.betas)}")
        require(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        require(self.grad_clip >= 0, "grad_clip", f"must be >= 0, got {self.grad_clip}")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 40
    batch_size: int = 128
    accumulation_steps: int = 1  # micro-batches per optimiser step (each keeps its own in-batch negatives)
    bf16: bool = False  # bf16 autocast of the forward pass and loss
    seed: int = 0
    checkpoint_every: int = 50  # optimiser steps; 0: no checkpoints
    monitor: str = "text->image R@5"  # early stopping and best-model choice, validated after every epoch
    patience: int = 5  # epochs without improvement before stopping; 0: never stop early
    min_delta: float = 0.0
    threads: int = 0  # torch threads while training; 0 keeps torch's. Heads on cached features run best on 1.

    def __post_init__(self) -> None:
        for name in ("epochs", "accumulation_steps"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        require(self.batch_size >= 2, "batch_size", f"must be >= 2 (in-batch negatives), got {self.batch_size}")
        for name in ("checkpoint_every", "patience", "threads"):
            require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        require(self.min_delta >= 0, "min_delta", f"must be >= 0, got {self.min_delta}")
        try:
            check_metric(self.monitor)
        except ValueError as error:
            raise FieldError("monitor", str(error)) from error


@dataclass(frozen=True)
class AugmentConfig:
    image_views: int = 1  # per image: view 0 clean, the rest augmented (unfrozen tower: > 1 augments every step)
    text_views: int = 1  # per caption: view 0 clean, the rest with word dropout
    crop_scale: tuple[float, float] = (0.6, 1.0)  # random resized crop: range of the kept area fraction
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # and of its aspect ratio (squashed to square: varies the shape)
    flip: bool = True
    color_jitter: float = 0.2  # brightness, contrast and saturation factors drawn from [1 - j, 1 + j]
    word_dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("image_views", "text_views"):
            require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        low, high = self.crop_scale
        require(0 < low <= high <= 1, "crop_scale", f"must satisfy 0 < low <= high <= 1, got {list(self.crop_scale)}")
        low, high = self.crop_ratio
        require(0 < low <= high, "crop_ratio", f"must satisfy 0 < low <= high, got {list(self.crop_ratio)}")
        require(0 <= self.color_jitter < 1, "color_jitter", f"must be in [0, 1), got {self.color_jitter}")
        require(0 <= self.word_dropout < 1, "word_dropout", f"must be in [0, 1), got {self.word_dropout}")


@dataclass(frozen=True)
class TuneConfig:
    sampler: str = "tpe"
    trials: int = 20
    seed: int = 0
    metric: str | None = None  # default: training.monitor
    # parameter -> a list of choices, or {low, high, log} for a float range (grid needs lists)
    space: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(self.sampler in SAMPLERS, "sampler", f"must be one of {SAMPLERS}, got {self.sampler!r}")
        require(self.trials >= 1, "trials", f"must be >= 1, got {self.trials}")
        if self.metric is not None:
            try:
                check_metric(self.metric)
            except ValueError as error:
                raise FieldError("metric", str(error)) from error
        for name, choices in self.space.items():
            _check_dimension(f"space.{name}", name, choices, self.sampler)


def _check_dimension(where: str, name: str, choices: Any, sampler: str) -> None:
    require(name in TUNABLE, where, f"unknown parameter; tunable are {TUNABLE}")
    if isinstance(choices, list):
        require(len(choices) > 0, where, "needs at least one choice")
        known = {"loss": LOSSES, "miner": MINERS}.get(name)
        for choice in choices if known else ():
            require(choice in known, where, f"unknown choice {choice!r}; choose from {sorted(known)}")
        return
    require(sampler != "grid", where, "the grid sampler needs a list of values")
    require(isinstance(choices, dict) and {"low", "high"} <= set(choices) <= {"low", "high", "log"},
             where, f"must be a list of choices or {{low, high, log}}, got {choices!r}")
    require(name not in ("loss", "miner"), where, "is categorical: give a list of choices")
    low, high = (float(choices[k]) for k in ("low", "high"))
    require(0 < low <= high if choices.get("log") else low <= high, where, f"bad range [{low}, {high}]")


@dataclass(frozen=True)
class FusionConfig:
    """Train a fusion model of photo+title items: caption `title_caption` of each image is its title (the item's
    text part), its other captions are the queries that must find the item. The model fuses the item's image
    vector (the image head's) and title vector (the text head's, as queries) with `method`."""

    method: str = "attention"
    options: dict = field(default_factory=dict)  # constructor arguments of the fusion module
    residual: bool = True  # the module corrects the mean of the parts instead of replacing it
    title_caption: int = 0
    # training only: the chance that an item loses one part (image or title, at random), so that the model
    # learns to fuse items that miss a modality
    modality_dropout: float = 0.2

    def __post_init__(self) -> None:
        require(self.method in FUSIONS, "method", f"must be one of {sorted(FUSIONS)}, got {self.method!r}")
        require(self.title_caption >= 0, "title_caption", f"must be >= 0, got {self.title_caption}")
        require(0 <= self.modality_dropout < 1, "modality_dropout", f"must be in [0, 1), got {self.modality_dropout}")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig
    output: str = "runs/train"  # the run directory: checkpoints, history, the saved model in output/model
    cache_dir: str | None = None  # frozen tower features; default output/features
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    training: TrainingConfig = TrainingConfig()
    augment: AugmentConfig = AugmentConfig()
    tune: TuneConfig = TuneConfig()
    fusion: FusionConfig | None = None  # set: train a fusion model of photo+title items

    def __post_init__(self) -> None:
        require("dim" not in self.tune.space or self.model.text_head != "identity", "tune.space.dim",
                 "an identity text head fixes the dimension; tune dim with a linear or mlp text head")
        if self.fusion is not None:
            self._check_fusion(self.fusion)

    def _check_fusion(self, fusion: FusionConfig) -> None:
        require(not self.model.unfreeze_last_block, "fusion", "trains over frozen tower features only; "
                "set model.unfreeze_last_block to false")
        try:
            build_fusion(fusion.method, (self.model.dim, self.model.dim), self.model.dim, fusion.residual,
                         **fusion.options)
        except (TypeError, ValueError) as error:
            raise FieldError("fusion.options", f"{fusion.method}: {error}") from error

    @property
    def run_dir(self) -> Path:
        return Path(self.output).expanduser()

    @property
    def feature_dir(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else self.run_dir / "features"

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        return from_data(cls, data)

    def to_dict(self) -> dict:
        return to_data(self)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The config in a YAML file; its relative paths (data, output, cache_dir) are relative to the file's folder,
    so a config runs the same from any working directory. `overrides` maps dotted field names
    ("training.epochs") to values that replace the file's."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the config: {error}") from error
    for name, value in (overrides or {}).items():
        _override(data, name, value)
    try:
        config = TrainConfig.from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    return relative_to(config, path.parent)


def _override(data: Any, name: str, value: Any) -> None:
    *sections, field_name = name.split(".")
    for depth, section in enumerate(sections):
        if not isinstance(data, dict):
            break
        data = data.setdefault(section, {})
        if not isinstance(data, dict):
            raise ConfigError(f"{'.'.join(sections[:depth + 1])}: is not a section, cannot set {name}")
    if not isinstance(data, dict):
        raise ConfigError(f"cannot set {name}: the config is not a mapping")
    data[field_name] = value


def relative_to(config: TrainConfig, folder: Path) -> TrainConfig:
    """`config` with its relative paths made absolute from `folder` ($VARS and ~ expanded first)."""
    def rebase(value: str) -> str:
        expanded = Path(os.path.expandvars(value)).expanduser()
        return os.path.normpath(folder.resolve() / expanded)

    def rebased_spec(spec: DataSpec) -> DataSpec:
        return dataclasses.replace(spec, path=rebase(spec.path))

    data = dataclasses.replace(config.data, train=tuple(map(rebased_spec, config.data.train)),
                               validation=rebased_spec(config.data.validation))
    return dataclasses.replace(config, data=data, output=rebase(config.output),
                               cache_dir=rebase(config.cache_dir) if config.cache_dir else None)


def save_config(config: TrainConfig, path: Path) -> None:
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
