"""The ConSE bridge (Norouzi et al. 2014): an image's ImageNet class probabilities into the text space, as the
weighted sum of the text embeddings of its most probable class names; and the settings that name it."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..errors import BadInput
from .base import l2_normalise
from .offline_pack import DEFAULT_IMAGE_TOWER, IMAGE_TOWERS
from .text_towers import DEFAULT_TEXT_TOWER, TEXT_TOWERS, tower_named_by

N_CLASSES = 1000
BRIDGE_VERSION = 1
_TOWERS_IN_MODEL_ID = re.compile(r"^offline:(?P<text>[a-z0-9-]+)\+effnet-(?P<image>[a-z0-9]+)-conse-")  # model_id()

# Chosen on coco-mini recall in both directions among settings whose bf16 vectors agree with fp32 ones
# (benchmarks/offline_bridge.py); flickr8k-500 is held out. Bare names beat prompt templates: a shared
# "a photo of a" pulls every image vector the same way, which image->text retrieval pays for.
DEFAULT_TOP_K = 50
DEFAULT_TEMPERATURE = 4.0  # softer than the classifier's own probabilities: more classes get a say
DEFAULT_TEMPLATES = ("{}",)
DEFAULT_CROP_FRACTION = 1.0
DEFAULT_SOFT_CUTOFF = True


@dataclass(frozen=True)
class ConseBridge:
    """Maps ImageNet logits into the text space: the normalised sum of w(class) * text(class) over the top-k
    classes, with w = p(class) at temperature T.

    With `soft_cutoff`, w = p(class) - p(the (k+1)-th class) instead: a class fades out as it nears the cut, so
    tiny logit changes (bf16 rounding) cannot swap a whole class in or out of a flat top-k.
    """

    class_embeddings: np.ndarray  # (N_CLASSES, text dim) unit rows, in class-index order
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
    """How images are bridged into which text tower's space, from which image tower; every field is part of the
    model id."""

    top_k: int = DEFAULT_TOP_K
    temperature: float = DEFAULT_TEMPERATURE
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    crop_fraction: float = DEFAULT_CROP_FRACTION
    soft_cutoff: bool = DEFAULT_SOFT_CUTOFF
    image_tower: str = DEFAULT_IMAGE_TOWER
    text_tower: str = DEFAULT_TEXT_TOWER

    def __post_init__(self) -> None:
        object.__setattr__(self, "templates", tuple(self.templates))
        if self.text_tower not in TEXT_TOWERS:
            raise BadInput(f"text_tower must be one of {sorted(TEXT_TOWERS)}, got {self.text_tower!r}")
        if self.image_tower not in IMAGE_TOWERS:
            raise BadInput(f"image_tower must be one of {sorted(IMAGE_TOWERS)}, got {self.image_tower!r}")
        if not 1 <= self.top_k <= N_CLASSES:
            raise BadInput(f"top_k must be in 1..{N_CLASSES}, got {self.top_k}")
        if not self.temperature > 0:
            raise BadInput(f"temperature must be > 0, got {self.temperature}")
        if not self.templates or any("{}" not in template for template in self.templates):
            raise BadInput(f"templates must be a non-empty list of strings with a {{}} slot, got {self.templates!r}")
        if not 0 < self.crop_fraction <= 1:
            raise BadInput(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")

    def model_id(self) -> str:
        """Changes with every setting: vectors made with other settings are not comparable."""
        template_digest = hashlib.sha1(json.dumps(self.templates).encode()).hexdigest()[:8]
        cutoff = "soft" if self.soft_cutoff else "hard"
        text = TEXT_TOWERS[self.text_tower].model_part
        return (f"offline:{text}+effnet-{self.image_tower}-conse-v{BRIDGE_VERSION}/k{self.top_k}-t{self.temperature:g}"
                f"-{cutoff}-c{self.crop_fraction:g}-p{template_digest}")


DEFAULT_BRIDGE = BridgeSettings()


def towers_of(model_id: str) -> dict[str, str]:
    """The towers an offline model id was made with, as BridgeSettings fields (text_tower, image_tower);
    ValueError when it names no text and image tower of this pack."""
    match = _TOWERS_IN_MODEL_ID.match(model_id)
    text = tower_named_by(match["text"]) if match else None
    if match is None or text is None or match["image"] not in IMAGE_TOWERS:
        raise BadInput(f"model {model_id!r}: not an offline model id (no text tower of {sorted(TEXT_TOWERS)} "
                       f"and image tower of {sorted(IMAGE_TOWERS)})")
    return {"text_tower": text, "image_tower": match["image"]}


def image_tower_of(model_id: str) -> str:
    """The image tower an offline model id was made with; ValueError when it names no towers of this pack."""
    return towers_of(model_id)["image_tower"]


def imagenet_class_names() -> list[str]:
    text = resources.files("mmret.resources").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = text.splitlines()
    if len(names) != N_CLASSES:
        raise RuntimeError(f"imagenet_classes.txt has {len(names)} names, expected {N_CLASSES}")
    return names
