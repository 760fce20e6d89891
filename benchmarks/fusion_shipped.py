"""The shipped trained heads (the default `offline` model, or `offline-en`) as the image path of benchmarks/fusion.py.

The heads' image MLP is loaded into a training model's image head and frozen, and the text head is the identity
(as shipped), so the model's vectors are that model's encoder output computed from the benchmark's cached tower
features. A fusion model trained from it keeps that frozen image head and trains only its fusion module. The
training config's `model.base` is the shipped name (each is also an OFFLINE_MODELS name for the same towers), so a
config says which heads it starts from.
"""
from __future__ import annotations

from functools import cache

import numpy as np
import torch
from torch import Tensor, nn

from mmret.encoders.offline_heads import ShippedHeads, load_heads, shipped_folder
from mmret.losses import build_loss
from mmret.training import TrainConfig
from mmret.training.experiment import PreparedData, data_key, fingerprint
from mmret.training.fused_model import FusedItemModel, build_trained_model
from mmret.training.model import RetrievalModel
from mmret.training.towers import OfflineTowers
from mmret.training.trainer import Trainer


@cache
def shipped_heads(name: str) -> ShippedHeads:
    return load_heads(shipped_folder(name))


def model_section(name: str) -> dict:
    """The training config's `model:` of the heads' architecture (no dropout: the image head stays frozen)."""
    heads = shipped_heads(name)
    record = heads.record
    hidden = heads.image.layers[0][0].shape[0]  # an MLP's hidden width (a linear head ignores it)
    return {"base": name, "precision": record["base"]["precision"],
            "image_inputs": record["image_inputs"], "image_head": record["image_head"],
            "text_head": record["text_head"], "dim": record["dim"], "hidden": hidden, "dropout": 0.0, "init": "random"}


def check_towers(towers: OfflineTowers, name: str) -> None:
    heads = shipped_heads(name)
    if towers.encoder.model_id != heads.record["base"]["model_id"]:
        raise SystemExit(f"the shipped heads run on {heads.record['base']['model_id']}, the benchmark's towers are "
                         f"{towers.encoder.model_id}")


def load_frozen_image_head(model: RetrievalModel | FusedItemModel, heads: ShippedHeads) -> None:
    linears = [m for m in model.image_head.modules() if isinstance(m, nn.Linear)]
    if len(linears) != len(heads.image.layers) or heads.record["text_head"] != "identity":
        raise SystemExit("the shipped heads' layers do not match the model built from their record")
    with torch.no_grad():
        for linear, (weight, bias) in zip(linears, heads.image.layers):
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
    model.image_head.requires_grad_(False)


def shipped_model(config: TrainConfig, towers: OfflineTowers, check: Tensor) -> RetrievalModel:
    """The shipped heads as a RetrievalModel, checked on `check` (image features) against the heads' numpy forward."""
    heads = shipped_heads(config.model.base)
    model = build_trained_model(config, towers)
    load_frozen_image_head(model, heads)
    model.eval()
    with torch.no_grad():
        ours = model.project_images(check).numpy()
    gap = float(np.abs(ours - heads.image(check.numpy())).max())
    if gap > 1e-4:
        raise SystemExit(f"the loaded image head differs from the shipped heads' forward by {gap}")
    return model


def fit_from_shipped(config: TrainConfig, data: PreparedData) -> FusedItemModel:
    """A fusion model over the frozen shipped image head, trained as `config` says (mmret's `fit`, plus the load)."""
    if data_key(config) != data.key:
        raise SystemExit("the data were prepared for another config")
    torch.manual_seed(config.training.seed)
    model = build_trained_model(config, data.towers)
    load_frozen_image_head(model, shipped_heads(config.model.base))
    loss = build_loss(config.loss.name, **config.loss.options)
    Trainer(model, loss, data.batches(config.training.batch_size, config.training.seed), data.validator,
            config.training, config.optimizer, None, fingerprint(config)).fit()
    return model
