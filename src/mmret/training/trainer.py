"""The training loop: AdamW with warmup + cosine, gradient accumulation and clipping, optional bf16 autocast,
validation after every epoch with early stopping, and checkpoints to resume from after an interruption.

A resumed run ends with the same weights as an uninterrupted one: batches are a pure function of
(seed, epoch, batch index), and a checkpoint holds everything else that changes (weights, optimiser and
schedule state, torch's random state, the early-stopping record).
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ..errors import BadInput
from .batches import PairBatches
from .config import OptimizerConfig, TrainingConfig
from .model import RetrievalModel
from .schedule import warmup_cosine_scheduler
from .validation import Validator, metric_value

SHORT_NAMES = {"text->image": "t2i", "image->text": "i2t"}


class LossNotFinite(BadInput, FloatingPointError):
    """Training diverged: the loss became NaN or infinite (the settings, not the code, are at fault)."""


@dataclass
class TrainResult:
    validation: dict  # {task: {metric: value}} of the kept (best) weights
    best_epoch: int  # 0: no epoch beat the starting point
    initial: dict  # validation of the starting point
    history: list[dict]  # per epoch: epoch, step, loss, lr, results
    steps: int
    stopped_early: bool
    train_seconds: float  # optimiser steps including batch preparation, without validation
    pairs: int

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.train_seconds if self.train_seconds else 0.0


@dataclass
class _State:
    """Everything about the loop's position and record that a checkpoint must restore."""

    step: int = 0
    epoch: int = 0  # epochs completed (validated)
    group: int = 0  # optimiser steps already taken in the current epoch
    epoch_losses: list = field(default_factory=list)
    best_value: float = -math.inf
    best_epoch: int = 0
    best_weights: dict | None = None
    bad_epochs: int = 0
    stopped: bool = False
    initial: dict | None = None
    history: list = field(default_factory=list)
    train_seconds: float = 0.0
    pairs: int = 0


class Trainer:
    def __init__(self, model: RetrievalModel, loss: nn.Module, batches: PairBatches, validator: Validator,
                 training: TrainingConfig, optimizer: OptimizerConfig, checkpoint: Path | None = None,
                 fingerprint: str = "", progress: bool = False, device: str = "cpu"):
        self.device = device  # a resolved torch device (devices.torch_device); batches arrive on the CPU
        self.model, self.loss, self.batches, self.validator = model.to(device), loss.to(device), batches, validator
        self.training, self.optimizer_config = training, optimizer
        self.checkpoint, self.fingerprint, self.progress = checkpoint, fingerprint, progress
        self.parameters = [p for module in (model, loss) for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(_parameter_groups(self.parameters, optimizer.weight_decay), lr=optimizer.lr,
                                           betas=optimizer.betas)
        self.steps_per_epoch = math.ceil(len(batches) / training.accumulation_steps)
        self.scheduler = warmup_cosine_scheduler(self.optimizer, optimizer.warmup_steps,
                                                 training.epochs * self.steps_per_epoch, optimizer.min_lr_ratio)

    def fit(self) -> TrainResult:
        threads = torch.get_num_threads()
        torch.set_num_threads(self.training.threads or threads)
        try:
            return self._fit()
        finally:
            torch.set_num_threads(threads)

    def _fit(self) -> TrainResult:
        state = self._restore() or self._start()
        total = self.training.epochs * self.steps_per_epoch
        with tqdm(total=total, initial=state.step, desc="training", unit="step", disable=not self.progress) as bar:
            while state.epoch < self.training.epochs and not state.stopped:
                self._train_epoch(state, bar)
                self._validate_epoch(state, bar)
        self._save(state)
        self.model.load_state_dict(state.best_weights)
        self.model.to("cpu")  # a trained model is saved and used on the CPU
        best = state.history[state.best_epoch - 1]["results"] if state.best_epoch else state.initial
        return TrainResult(best, state.best_epoch, state.initial, state.history, state.step, state.stopped,
                           state.train_seconds, state.pairs)

    def _start(self) -> _State:
        torch.manual_seed(self.training.seed)
        state = _State(initial=self.validator(self.model, self.device))
        self._record_best(state, 0, metric_value(state.initial, self.training.monitor))
        return state

    def _train_epoch(self, state: _State, bar: tqdm) -> None:
        accumulation = self.training.accumulation_steps
        micro_batches = self.batches.epoch(state.epoch, start=state.group * accumulation)
        self.model.train()
        for _ in range(state.group, self.steps_per_epoch):
            started = time.perf_counter()
            group = list(islice(micro_batches, accumulation))
            loss = self._step(group)
            state.train_seconds += time.perf_counter() - started
            state.pairs += sum(len(images) for images, _ in group)
            state.step, state.group = state.step + 1, state.group + 1
            state.epoch_losses.append(loss)
            bar.update()
            bar.set_postfix(_postfix(state, loss, self.training.monitor), refresh=False)
            if self.training.checkpoint_every and state.step % self.training.checkpoint_every == 0:
                self._save(state)

    def _step(self, group: list) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for images, texts in group:
            images, texts = images.to(self.device), texts.to(self.device)
            with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.training.bf16):
                image_vectors, text_vectors = self.model.embed_images(images), self.model.embed_texts(texts)
            loss = self.loss(image_vectors.float(), text_vectors.float()) / len(group)  # the loss in fp32
            loss.backward()
            total += loss.item()
        if not math.isfinite(total):
            raise LossNotFinite(f"the loss is {total} at step {self.scheduler.last_epoch + 1}; "
                                "try a lower learning rate")
        if self.optimizer_config.grad_clip:
            nn.utils.clip_grad_norm_(self.parameters, self.optimizer_config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return total

    def _validate_epoch(self, state: _State, bar: tqdm) -> None:
        results = self.validator(self.model, self.device)
        losses = state.epoch_losses
        state.epoch, state.group, state.epoch_losses = state.epoch + 1, 0, []
        state.history.append({"epoch": state.epoch, "step": state.step, "loss": sum(losses) / max(len(losses), 1),
                              "lr": self.scheduler.get_last_lr()[0], "results": results})
        value = metric_value(results, self.training.monitor)
        if value > state.best_value + self.training.min_delta:
            self._record_best(state, state.epoch, value)
        else:
            state.bad_epochs += 1
            state.stopped = 0 < self.training.patience <= state.bad_epochs  # said once, with the validation (run.py)
        bar.set_postfix(_postfix(state, losses[-1] if losses else math.nan, self.training.monitor), refresh=True)

    def _record_best(self, state: _State, epoch: int, value: float) -> None:
        state.best_value, state.best_epoch, state.bad_epochs = value, epoch, 0
        state.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _save(self, state: _State) -> None:
        if self.checkpoint is None:
            return
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        partial = self.checkpoint.with_name(f"{self.checkpoint.name}.{os.getpid()}.partial")
        torch.save({"fingerprint": self.fingerprint, "model": self.model.state_dict(), "loss": self.loss.state_dict(),
                    "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(), "state": dataclasses.asdict(state)}, partial)
        os.replace(partial, self.checkpoint)  # atomic: an interruption while saving keeps the previous one

    def _restore(self) -> _State | None:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return None
        saved = torch.load(self.checkpoint, weights_only=True, map_location=self.device)
        if saved["fingerprint"] != self.fingerprint:
            raise BadInput(f"{self.checkpoint} belongs to a run with another configuration: delete it to start "
                           "afresh, or set another output directory")
        self.model.load_state_dict(saved["model"])
        self.loss.load_state_dict(saved["loss"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        torch.set_rng_state(saved["torch_rng"].cpu())
        return _State(**saved["state"])


def early_stop_note(epoch: int, epochs: int, patience: int, monitor: str, best_epoch: int) -> str:
    return (f"stopped early after epoch {epoch} of {epochs}: {monitor} did not improve for {patience} epochs "
            f"(training.patience); keeping epoch {best_epoch}")


def _parameter_groups(parameters: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and kernels only, not on biases, norms or a loss's temperature."""
    return [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}]


def _postfix(state: _State, loss: float, monitor: str) -> dict:
    postfix = {"epoch": state.epoch, "loss": f"{loss:.4f}"}
    if state.history:
        for task, values in state.history[-1]["results"].items():
            for metric in ("R@1", "R@5"):
                postfix[f"{SHORT_NAMES[task]} {metric}"] = f"{values[metric]:.3f}"
    postfix["best"] = f"{state.best_value:.3f}@{state.best_epoch}"
    return postfix
