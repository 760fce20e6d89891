"""The offline models with trained heads shipped inside the package: the offline pack's frozen towers and heads.

Each set of heads (float16, in its folder under `mmret/resources/`, with its model card beside it) was trained by
`mmret train configs/...` and exported by `mmret.training.shipped`; SHIPPED_HEADS names them. Their forward is
numpy: an image head (linear or MLP) over the tower's L2-normalised pooled features (and its ConSE vector, where
trained with it), and a text head (identity or linear) over the text tower's sentence vector. The model id is
"NAME@PIN", PIN the first 12 hex digits of the heads file's sha256, so a collection names the exact heads it was
built with; a pinned id finds its heads by PIN under any shipped name (collections made when the English heads were
the default recorded "offline@PIN" of those heads, which now ship as "offline-en").
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput
from .base import SHARED, Encoder, l2_normalise
from .conse import BridgeSettings
from .model_id import PIN_DIGITS, ModelId
from .wrapped import WrappedEncoder

#: shipped name -> its folder under mmret/resources: "offline" (the default; USE-m3, 16 languages; also named
#: "offline-m3") and "offline-en" (MiniLM, English: the default before the multilingual heads)
SHIPPED_HEADS = {"offline": "offline", "offline-m3": "offline", "offline-en": "offline-en"}
SHIPPED_NAME = "offline"
HEADS_FILE = "heads.npz"
RECORD_FILE = "record.json"


_ERFC = np.frompyfunc(math.erfc, 1, 1)  # the C library's erfc per value: a head's hidden layer is a few thousand


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU, as torch.nn.GELU computes it (scipy's erf would cost an image query 0.2 s to import)."""
    x = np.asarray(x, dtype=np.float32)  # erfc(-z) = 1 + erf(z), without 1 + erf's cancellation for negative x
    return (0.5 * x * _ERFC(-x / np.sqrt(2.0)).astype(np.float32)).astype(np.float32)


@dataclass(frozen=True)
class Head:
    """Linear layers applied in order, GELU between them; none at all is the identity."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        for index, (weight, bias) in enumerate(self.layers):
            x = (gelu(x) if index else x) @ weight.T + bias
        return l2_normalise(x)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> Head:
        count = sum(1 for name in arrays if name.startswith(f"{prefix}.") and name.endswith(".weight"))
        return cls(tuple((arrays[f"{prefix}.{i}.weight"].astype(np.float32), arrays[f"{prefix}.{i}.bias"].astype(np.float32))
                         for i in range(count)))


@dataclass(frozen=True)
class ShippedHeads:
    image: Head
    text: Head
    record: dict
    digest: str  # sha256 of the heads file

    @property
    def pin(self) -> str:
        return self.digest[:PIN_DIGITS]

    @property
    def bridge(self) -> BridgeSettings:
        return BridgeSettings(**self.record["base"]["options"])

    @property
    def image_inputs(self) -> tuple[str, ...]:
        return tuple(self.record["image_inputs"])


def shipped_folder(name: str = SHIPPED_NAME) -> Path:
    return Path(str(resources.files("mmret.resources").joinpath(SHIPPED_HEADS[name])))


def load_heads(folder: Path | None = None) -> ShippedHeads:
    """The heads in `folder` (default: the package's own), checked against the sha256 their record names."""
    folder = folder or shipped_folder()
    heads_file, record_file = folder / HEADS_FILE, folder / RECORD_FILE
    try:
        data = heads_file.read_bytes()
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"{folder}: the offline model's heads cannot be read ({error}); reinstall mmret") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != record.get("weights_sha256"):
        raise BadInput(f"{heads_file}: sha256 {digest[:PIN_DIGITS]} is not the {record.get('weights_sha256', '?')[:PIN_DIGITS]} "
                       "its record names; reinstall mmret")
    with np.load(heads_file, allow_pickle=False) as arrays:
        named = dict(arrays)
    return ShippedHeads(Head.from_arrays(named, "image"), Head.from_arrays(named, "text"), record, digest)


class OfflineHeadsEncoder(WrappedEncoder):
    """Text and images in the heads' shared space; images also in the tower's own "image" space (as the bridge)."""

    modalities = ("text", "image")

    def __init__(self, precision: str = "auto", heads: ShippedHeads | None = None, name: str = SHIPPED_NAME) -> None:
        from .offline import IMAGE_DIM, IMAGE_SPACE, OfflineEncoder

        self.heads = heads or load_heads()
        self.base = OfflineEncoder(precision=precision, bridge=self.heads.bridge)
        expected = self.heads.record["base"]["model_id"]
        if self.base.model_id != expected:
            raise BadInput(f"the shipped heads were trained on {expected}, which this mmret cannot rebuild "
                           f"(it makes {self.base.model_id})")
        self.model_id = str(ModelId(name, pin=self.heads.pin))
        self._image_space = IMAGE_SPACE
        self.spaces = {SHARED: int(self.heads.record["dim"]), IMAGE_SPACE: IMAGE_DIM}

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        if modality == "text":
            return {SHARED: self.heads.text(self.base.embed_prepared("text", batch)[SHARED])}
        pooled, logits = self.base.image_tower(np.asarray(batch, dtype=np.float32))
        parts = {"pooled": lambda: l2_normalise(pooled), "conse": lambda: self.base.bridge.project(logits)}
        features = np.concatenate([parts[name]() for name in self.heads.image_inputs], axis=1)
        return {SHARED: self.heads.image(features), self._image_space: l2_normalise(pooled)}


def claims_shipped(model: ModelId) -> bool:
    return model.base in SHIPPED_HEADS


def heads_of(model: ModelId) -> ShippedHeads:
    """The shipped heads `model` names: by its pin (under whichever shipped name), else by its name."""
    if model.pin is None:
        return load_heads(shipped_folder(model.base))
    shipped = {heads.pin: heads for heads in map(load_heads, map(shipped_folder, set(SHIPPED_HEADS)))}
    if model.pin not in shipped:
        raise BadInput(f"model {model}: this mmret ships the offline heads {', '.join(sorted(shipped))}, not "
                       f"{model.pin}; re-index the collection, or install the mmret version that made it")
    return shipped[model.pin]


def load_shipped(model: ModelId, precision: str) -> Encoder:
    """A pinned id keeps its name (so a collection's recorded id loads as itself); a bare name takes its heads'
    own (folder) name, so `offline-m3` and `offline` record one id for one set of heads."""
    name = model.base if model.pin else SHIPPED_HEADS[model.base]
    return OfflineHeadsEncoder(precision, heads_of(model), name)
