"""Composed queries: several parts (texts, images, audio files, stored items), each with a weight, negative parts pulling away
("-people": not this), fused into one query vector or searched part by part and fused at decision level.

On the command line a part is written as its value, optionally prefixed by "-" (negative) and suffixed by "^W"
(its weight): `--image shoe.jpg --text "in red^0.5" --text "-people"`, `--like shoe.jpg --like -boot.jpg`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.fused import FUSED_MODALITIES, FusedEncoder
from ..errors import BadInput

ITEM = "item"  # a stored item, named by its id or its file's path: searched with its stored vectors
QUERY_MODALITIES = ("text", "image", "audio", ITEM)
_WEIGHT = re.compile(r"^(?P<value>.*?)\^(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$", re.DOTALL)


@dataclass(frozen=True)
class QueryPart:
    modality: str
    value: Any  # the text; the path of the file, or (from the server) an image or Waveform decoded already; an id
    weight: float = 1.0  # negative: results should be unlike this part

    def __post_init__(self) -> None:
        if self.modality not in QUERY_MODALITIES:
            raise BadInput(f"query part {self.value!r}: unknown modality {self.modality!r}; "
                           f"choose from {QUERY_MODALITIES}")
        if self.weight == 0 or not np.isfinite(self.weight):
            raise BadInput(f"query part {self.value!r}: weight must be a non-zero number, got {self.weight}")
        if self.modality in ("text", ITEM) and not str(self.value).strip():
            raise BadInput(f"a {self.modality} query part is empty")

    @property
    def negative(self) -> bool:
        return self.weight < 0


def parse_part(modality: str, written: str) -> QueryPart:
    """A part as written on the command line: "[-]VALUE[^WEIGHT]"."""
    weight = 1.0
    match = _WEIGHT.match(written)
    if match:
        written, weight = match["value"], float(match["weight"])
    if written.startswith("-") and len(written) > 1:
        written, weight = written[1:], -weight
    if modality == "text":
        return QueryPart(modality, written, weight)
    if modality == ITEM:  # an id, or a path: "~" too, which a shell leaves as it is after "-" or "="
        return QueryPart(modality, os.path.expanduser(written), weight)
    return QueryPart(modality, Path(written).expanduser(), weight)


def check_parts(parts: Sequence[QueryPart]) -> list[QueryPart]:
    parts = list(parts)
    if not parts:
        raise BadInput("a query needs text, an image, an audio file, a stored item, or several of them")
    if all(part.negative for part in parts):
        raise BadInput("a query needs at least one positive part; every part given is negative")
    return parts


def compose_vector(parts: Sequence[QueryPart], vectors: np.ndarray, encoder: FusedEncoder | None = None) -> np.ndarray:
    """One unit query vector from the parts' unit vectors (rows of `vectors`, in one space).

    Without a fusing encoder: the weighted sum of the parts (negative weights subtract). With one, the positive
    image and text parts (each modality's weighted mean) go through its fusion as an item's parts would (when
    both are given: a text-only query stays the text's vector, as the fusion model was trained to match it),
    then the other positive parts are added and the negative ones subtracted, with their weights.
    """
    parts = check_parts(parts)
    weights = np.array([part.weight for part in parts], dtype=np.float32)[:, None]
    if encoder is None:
        return _unit((weights * vectors).sum(axis=0))
    fusable = [i for i, part in enumerate(parts) if part.modality in FUSED_MODALITIES and not part.negative]
    if not fusable:
        return _unit((weights * vectors).sum(axis=0))
    by_modality = {}
    for modality in FUSED_MODALITIES:
        rows = [i for i in fusable if parts[i].modality == modality]
        if rows:
            by_modality[modality] = _unit((weights[rows] * vectors[rows]).sum(axis=0))[None, :]
    # One modality is a plain query (as a fusion model is trained to match), not an item to fuse.
    fused = next(iter(by_modality.values()))[0] if len(by_modality) == 1 else encoder.fuse(by_modality, 1)[0]
    fused = fused * float(weights[fusable].sum())
    rest = [i for i in range(len(parts)) if i not in fusable]
    return _unit(fused + (weights[rest] * vectors[rest]).sum(axis=0))


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm < 1e-6:
        raise BadInput("the query parts cancel out (their weighted vectors sum to zero)")
    return (vector / norm).astype(np.float32)
