"""The offline encoder's image tower, EfficientNet-Lite in torch, loaded at its first use: a text-only process
never imports torch for it.

Its precision is resolved (probed, then cast in place) at its first batch, like the text tower's.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from .offline_pack import (
    IMAGE_TOWERS,
    check_image_pack,
    import_image_pack,
    quiet_loading,
)

FEATURE_DIM = 1280
N_LOGITS = 1000
CHUNK = 64
PRECISION_PROBE_NAME = "offline image tower"  # the key of its probe in the precision cache


class EfficientNetTower:
    """Prepared images (n, 3, size, size) -> pooled features (n, 1280) and ImageNet logits (n, 1000).

    `probe_rows(features, logits)` turns the tower's outputs on the probe images into the rows whose agreement
    decides between bf16 and fp32.
    """

    def __init__(self, tower: str, precision: str, probe_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 probe_cache: Path | None = None, what: str = "offline") -> None:
        check_image_pack(tower)
        self.tower = tower
        self.size = IMAGE_TOWERS[tower]
        self.precision = precision
        self._probe_rows = probe_rows
        self._probe_cache = probe_cache
        self._what = what
        self._network = None
        self._dtype = None
        self._lock = threading.RLock()

    @property
    def network(self) -> Any:
        """The EfficientNet module (loaded now if it was not yet; in the resolved dtype once a batch has run)."""
        with self._lock:
            if self._network is None:
                import torch

                pack = import_image_pack(self.tower)
                with quiet_loading():
                    network = pack.EfficientNet.from_pretrained(f"efficientnet-{self.tower}",
                                                                weights_path=pack.image_weights)
                self._network = network.eval().to(memory_format=torch.channels_last)
            return self._network

    @property
    def dtype(self) -> Any:
        """The tower's torch dtype, resolved on first use."""
        with self._lock:
            if self._dtype is None:
                from .precision import resolve_dtype

                network = self.network
                self._dtype = resolve_dtype(self.precision, self._probe, PRECISION_PROBE_NAME, self._probe_cache)
                network.to(self._dtype)
            return self._dtype

    def run(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        batch = np.asarray(batch, dtype=np.float32)
        if batch.size == 0:
            return np.zeros((0, FEATURE_DIM), np.float32), np.zeros((0, N_LOGITS), np.float32)
        if batch.shape[1:] != (3, self.size, self.size):
            raise BadInput(f"{self._what}: prepared images must be (n, 3, {self.size}, {self.size}), got {batch.shape}")
        return self._run(self.network, self.dtype, batch)

    def _run(self, network: Any, dtype: Any, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        features, logits = [], []
        for start in range(0, len(batch), CHUNK):
            pixels = torch.from_numpy(batch[start:start + CHUNK]).to(dtype)
            with torch.inference_mode():
                feature_map = network.extract_features(pixels.contiguous(memory_format=torch.channels_last))
                pooled = feature_map.mean(dim=(2, 3))
                features.append(pooled.float().numpy())
                logits.append(network._fc(pooled).float().numpy())  # forward() minus eval-time no-op dropout
        return np.concatenate(features), np.concatenate(logits)

    def _probe(self, dtype: Any) -> np.ndarray:
        import torch

        network = self.network if dtype == torch.float32 else copy.deepcopy(self.network).to(dtype)
        return self._probe_rows(*self._run(network, dtype, probe_images(self.size)))


def probe_images(size: int) -> np.ndarray:
    """Four deterministic synthetic model inputs: colour gradients, stripes and noise in [-1, 1]."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    across, down = np.meshgrid(ramp, ramp)
    images = []
    for frequency in (2, 5, 11, 23):
        stripes = np.sin(frequency * np.pi * (across + down) / 2)
        channels = [across, down, stripes]
        noise = rng.normal(0.0, 0.2, size=(3, size, size))
        images.append(np.clip(np.stack(channels) + noise, -1.0, 1.0))
    return np.stack(images).astype(np.float32)
