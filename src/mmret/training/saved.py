"""A trained model on disk, and the encoder that loads it.

The directory holds `model.safetensors` (the heads, the image tower's trainable block if it had one, the fusion
module of a model trained with a `fusion:` section) and
`mmret-model.json`: the base encoder, the full training config, the data it was trained and validated on,
its validation metrics and the code version. `TrainedEncoder(DIR)` is an Encoder like any other: it loads
the base encoder recorded there and applies the trained parts, so `evaluate(TrainedEncoder(DIR), validation
data)` reproduces the validation metrics recorded at training time. A fusion model's encoder also has `fusion`,
which fuses an item's shared-space image and text vectors into one (`mmret.fusion.fuse_vectors`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..encoders.base import SHARED, l2_normalise
from ..encoders.conse import BridgeSettings
from ..encoders.devices import is_gpu, torch_device
from ..encoders.model_id import PIN_DIGITS, ModelId
from ..encoders.offline import IMAGE_DIM, IMAGE_SPACE, OfflineEncoder
from ..encoders.registry import Backend, register_backend
from ..encoders.wrapped import WrappedEncoder
from ..errors import BadInput, StorageFailure, Unavailable
from ..fusion import FeatureFusion
from .config import TrainConfig
from .fused_model import FUSED_MODALITIES, FusedItemModel, build_trained_model
from .model import RetrievalModel
from .towers import OfflineTowers
from .trainer import TrainResult

RECORD = "mmret-model.json"
WEIGHTS = "model.safetensors"
FORMAT = "mmret-trained-model"
FORMAT_VERSION = 1


def save_model(directory: Path, model: RetrievalModel | FusedItemModel, config: TrainConfig, result: TrainResult,
               base: OfflineEncoder) -> Path:
    """Writes the model directory (replacing an older one whole) and returns it. A failed write (a full disk, no
    permission) leaves the older one as it was and says so in one line."""
    directory = Path(directory)
    partial = directory.with_name(f"{directory.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _write_model(partial, model, config, result, base)
    except (OSError, SafetensorError) as error:  # safetensors reports a full disk as its own error
        shutil.rmtree(partial, ignore_errors=True)
        kept = "the previous model there is kept" if is_trained_model_dir(directory) else "nothing was saved"
        reason = getattr(error, "strerror", None) or error
        raise StorageFailure(f"{directory}: cannot save the trained model ({reason}); {kept}") from error
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory


def _write_model(partial: Path, model: RetrievalModel | FusedItemModel, config: TrainConfig, result: TrainResult,
                 base: OfflineEncoder) -> None:
    partial.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(partial / WEIGHTS))
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "base": {"name": config.model.base, "model_id": base.model_id, "precision": config.model.precision,
                 "options": bridge_options(base)},
        "dim": config.model.dim,
        "fusion": fusion_record(config),
        "weights_sha256": _sha256(partial / WEIGHTS),
        "data": {"train": [str(s) for s in config.data.train], "validation": str(config.data.validation)},
        "validation": {"results": result.validation, "best_epoch": result.best_epoch, "untrained": result.initial},
        "training": {"steps": result.steps, "epochs": len(result.history), "stopped_early": result.stopped_early,
                     "train_seconds": round(result.train_seconds, 2)},
        "config": config.to_dict(),
        "code": code_version(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (partial / RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")


def fusion_record(config: TrainConfig) -> dict | None:
    """What a trained fusion model fuses and how (None for a model without one)."""
    if config.fusion is None:
        return None
    return {"method": config.fusion.method, "modalities": list(FUSED_MODALITIES), "residual": config.fusion.residual,
            "options": config.fusion.options}


def bridge_options(encoder: OfflineEncoder) -> dict:
    """The offline encoder's bridge settings, so a saved model rebuilds the exact base it was trained on even
    after the package's defaults change."""
    return dataclasses.asdict(encoder.settings)


def code_version() -> dict:
    """mmret's version, and the git commit of its source (with a flag for uncommitted changes) when in a checkout."""
    source = Path(__file__).resolve().parent
    return {"mmret": metadata.version("mmret"), "git_commit": _git(source, "rev-parse", "HEAD"),
            "git_dirty": bool(_git(source, "status", "--porcelain", "--untracked-files=no"))}


def is_trained_model_dir(path: str | Path) -> bool:
    """Whether `path` (optionally with its `@hash` model-id suffix) is a trained model directory."""
    directory, _ = split_model_id(str(path))
    return (directory / RECORD).is_file()


def split_model_id(name: str) -> tuple[Path, str | None]:
    """A model directory and the weights hash of a TrainedEncoder model id "DIR@HASH" (None for a bare DIR)."""
    model = ModelId.parse(name)
    if model.pin is not None and not Path(name).exists():
        return Path(model.base).expanduser(), model.pin
    return Path(name).expanduser(), None


def read_record(directory: Path) -> dict:
    file = directory / RECORD
    if not file.is_file():
        raise BadInput(f"{directory}: not a trained model directory (no {RECORD})")
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise BadInput(f"{file}: unreadable: {error}") from error
    if record.get("format") != FORMAT or record.get("format_version") != FORMAT_VERSION:
        raise BadInput(f"{file}: not a version {FORMAT_VERSION} {FORMAT} record")
    return record


class TrainedEncoder(WrappedEncoder):
    """The base encoder with trained heads. model_id = "<resolved dir>@<first 12 hex of the weights' sha256>"; a
    name carrying such a suffix must match the weights on disk.

    precision: of the base towers; None or "auto" means the one the model was trained with, so features match.
    """

    def __init__(self, path: str | Path, precision: str | None = None):
        directory, expected = split_model_id(str(path))
        directory = directory.resolve()
        record = read_record(directory)
        digest = _sha256(directory / WEIGHTS)
        if record["weights_sha256"] != digest or (expected and not digest.startswith(expected)):
            raise BadInput(f"{directory}: {WEIGHTS} is not the weights this model id or record names")
        config = TrainConfig.from_dict(record["config"])
        base = record["base"]
        precision = base["precision"] if precision in (None, "auto") else precision
        self.base = OfflineEncoder(precision=precision, bridge=BridgeSettings(**base["options"]))
        if self.base.model_id != base["model_id"]:
            raise BadInput(f"{directory}: trained on {base['model_id']}, which this mmret's offline encoder cannot "
                           f"rebuild (it makes {self.base.model_id})")
        self.towers = OfflineTowers(self.base, config.model.image_inputs)
        self.model = build_trained_model(config, self.towers)
        self.model.load_state_dict(load_file(str(directory / WEIGHTS)))
        self.model.eval()
        self.record = record
        self.model_id = str(ModelId(str(directory), pin=digest[:PIN_DIGITS]))
        self.modalities = self.base.modalities
        self.spaces = {SHARED: config.model.dim, IMAGE_SPACE: IMAGE_DIM}

    @property
    def fusion(self) -> FeatureFusion | None:
        """The trained fusion module over the shared vectors of FUSED_MODALITIES, if the model has one."""
        return self.model.fusion if isinstance(self.model, FusedItemModel) else None

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        with torch.no_grad():
            if modality == "text":
                features = torch.from_numpy(self.towers.text_features(list(batch)))
                # a title's vector; a query of fused items is moved by FusedEncoder.adapt_queries
                return {SHARED: self.model.project_texts(features).numpy()}
            pooled, logits = self._tower_outputs(np.asarray(batch, dtype=np.float32))
            vectors = self.model.project_images(self.towers.combine(pooled, logits))
            return {SHARED: vectors.numpy(), IMAGE_SPACE: l2_normalise(pooled.numpy())}

    def _tower_outputs(self, batch: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        if self.model.image_tower is not None:
            return self.model.image_tower.tower_outputs(torch.from_numpy(batch))
        return self.towers.tower_outputs(batch)


def _is_trained(model: ModelId) -> bool:
    return is_trained_model_dir(str(model))


def _load_trained(model: ModelId, precision: str, device: str = "cpu") -> TrainedEncoder:
    if device not in ("cpu", "auto") and is_gpu(torch_device(device)):
        raise Unavailable(f"device {device!r}: trained models run on the CPU in this version; use --device cpu")
    return TrainedEncoder(str(model), None if precision == "auto" else precision)


REGISTERED_BACKEND = Backend(_is_trained, _load_trained)
register_backend("trained", REGISTERED_BACKEND)  # so that every layer's load_encoder knows them


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
