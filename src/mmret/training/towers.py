"""The offline pack's towers as feature extractors for trained heads, frozen or with the image tower's last
block trainable.

Image features: the image tower's pooled 1280-d features (L2-normalised, "pooled") and the ConSE vector of its
ImageNet logits (the text tower's width, unit length, "conse"), concatenated in the configured order. Text
features: the text tower's sentence embedding (unit length), which is also the offline encoder's shared space.

Relies on OfflineEncoder's `image_tower`, `bridge`, `preparer`, `encode`, `model_id`, `precision`, `image_dtype`
and (saved models) `settings`, `text_dim`; for the trainable last block only, on its `image_network` (the
EfficientNet-Lite module: read and copied, never changed).
"""
from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encoders.offline import IMAGE_DIM, OfflineEncoder

FEATURE_VERSION = 1


class OfflineTowers:
    def __init__(self, encoder: OfflineEncoder, image_inputs: tuple[str, ...] = ("pooled", "conse")):
        self.encoder = encoder
        self.image_inputs = tuple(image_inputs)
        self.input_dims = {"pooled": IMAGE_DIM, "conse": encoder.text_dim}
        self.image_dim = sum(self.input_dims[name] for name in self.image_inputs)
        self.text_dim = encoder.text_dim

    def key(self, modality: str) -> str:
        """Identifies the frozen features of a modality: a cache of them is valid while this is unchanged."""
        parts = {"model": self.encoder.model_id, "precision": self.encoder.precision, "modality": modality,
                 "version": FEATURE_VERSION}
        if modality == "image":
            parts["inputs"] = list(self.image_inputs)
        digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
        return f"offline-{modality}-{digest}"

    def preparer(self):
        return self.encoder.preparer("image")

    def tower_outputs(self, prepared: np.ndarray) -> tuple[Tensor, np.ndarray]:
        """The frozen tower's pooled features (n, 1280) and ImageNet logits (n, 1000) of prepared images."""
        pooled, logits = self.encoder.image_tower(prepared)
        return torch.from_numpy(pooled), logits

    def image_features(self, prepared: np.ndarray) -> np.ndarray:
        return self.combine(*self.tower_outputs(prepared)).numpy()

    def text_features(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode("text", texts)

    def combine(self, pooled: Tensor, logits: np.ndarray) -> Tensor:
        """The configured image features from the tower's pooled features and its logits (the bridge is fixed)."""
        parts = {"pooled": lambda: F.normalize(pooled, dim=1),
                 "conse": lambda: torch.from_numpy(self.encoder.bridge.project(logits)).to(pooled.dtype)}
        return torch.cat([parts[name]() for name in self.image_inputs], dim=1)


class LastBlockTower(nn.Module):
    """Prepared pixels (n, 3, 224, 224) -> image features, with the last MBConv block and the head convolution
    (and its batch norm) trainable copies; the rest of the tower and its classifier stay frozen and shared.

    Batch-norm statistics stay as pretrained (training batches here are small), so the module always runs in
    eval mode; the trainable weights are what `state_dict` holds.
    """

    def __init__(self, towers: OfflineTowers):
        super().__init__()
        self._dtype = towers.encoder.image_dtype  # resolves the tower's precision (a cast) before copying
        network = towers.encoder.image_network
        self._towers = towers
        self._frozen = (network,)  # a tuple hides it from nn.Module: neither trained nor saved
        self.block = copy.deepcopy(network._blocks[-1]).float()
        self.conv_head = copy.deepcopy(network._conv_head).float()
        self.bn = copy.deepcopy(network._bn1).float()
        self.train(False)

    def train(self, mode: bool = True) -> LastBlockTower:
        return super().train(False)

    def forward(self, pixels: Tensor) -> Tensor:
        return self._towers.combine(*self.tower_outputs(pixels))

    def tower_outputs(self, pixels: Tensor) -> tuple[Tensor, np.ndarray]:
        """Pooled features (n, 1280), differentiable through the trainable part, and ImageNet logits (n, 1000)."""
        network = self._frozen[0]
        with torch.no_grad():
            x = self._frozen_prefix(network, pixels.to(self._dtype))
        x = self.block(x.float())
        pooled = network._swish(self.bn(self.conv_head(x))).mean(dim=(2, 3))
        with torch.no_grad():
            logits = network._fc(pooled.detach().to(self._dtype)).float().numpy()
        return pooled, logits

    @staticmethod
    def _frozen_prefix(network: nn.Module, pixels: Tensor) -> Tensor:
        """The tower up to its last block (EfficientNet.extract_features minus the last block and head)."""
        x = network._swish(network._bn0(network._conv_stem(pixels)))
        for block in network._blocks[:-1]:
            x = block(x)  # no drop connect: the frozen network is in eval mode
        return x

