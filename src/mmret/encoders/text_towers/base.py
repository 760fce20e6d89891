"""The text tower protocol of the offline encoder: texts -> L2-normalised float32 rows in the tower's space.

Queries and passages are apart because some towers (e5) embed them with different prefixes; the offline
encoder embeds the ImageNet class names as passages and every text item (queries, titles) as a query.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..base import l2_normalise


class TextTower(ABC):
    #: the tower's name in TEXT_TOWERS
    name: str
    #: width of its vectors
    dim: int
    #: the version of the package that ships its weights (part of the class-name cache key)
    version: str

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) unit float32 rows of search queries (and of any text item of the offline encoder)."""

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) unit float32 rows of passages (the ImageNet class names); as queries unless the tower differs."""
        return self.encode_queries(texts)

    @property
    def dtype(self) -> Any:
        """The dtype the tower computes in (a torch dtype for a torch tower)."""
        return np.dtype(np.float32)


def checked_texts(texts: Sequence[str], tower: str) -> list[str]:
    texts = list(texts)
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"text tower {tower}: text items must be str, got {type(text).__name__}")
    return texts


def unit_rows(rows: Any, dim: int) -> np.ndarray:
    """A package's output as (n, dim) unit float32 rows (an empty batch as (0, dim))."""
    rows = np.asarray(rows, dtype=np.float32).reshape(-1, dim)
    return l2_normalise(rows) if len(rows) else rows
