"""The encoder protocol: every backend turns a batch of one modality into L2-normalised float32 vectors.

An encoder may embed into several named spaces. "shared" is always present: it is the one space in
which every modality of the encoder is comparable. A backend may add a modality's own space (the offline
pack's "image" space: the image tower's features), which only same-modality queries use.

Work is split in two so that heavy per-item work (decoding, resizing) can run in loader workers:
`preparer(modality)` returns a small picklable callable applied per raw item (PIL image, string),
`collate` stacks prepared items, and `embed_prepared` runs the model on a collated batch.
An image preparer may receive a lazily opened PIL image (from `mmret.data.decode.open_image`): it calls
`mmret.data.decode.load_rgb(image, min_side=...)` first, which decodes big JPEGs at a reduced scale.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import BadInput

SHARED = "shared"


def identity(x: Any) -> Any:
    return x


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Encoder(ABC):
    #: identifies the weights; recorded in a collection, which refuses vectors from any other model
    model_id: str
    #: the modalities this encoder accepts
    modalities: tuple[str, ...]
    #: space name -> dimension; always has SHARED
    spaces: Mapping[str, int]

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        """A picklable per-item transform (runs in loader worker processes)."""
        self._check(modality)
        return identity

    def collate(self, modality: str, prepared: Sequence[Any]) -> Any:
        if prepared and isinstance(prepared[0], np.ndarray):
            return np.stack(prepared)
        return list(prepared)

    @abstractmethod
    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        """Vectors of a collated batch in every space this modality has: {space: (n, d) float32, unit rows}."""

    def embed(self, modality: str, raw: Sequence[Any]) -> dict[str, np.ndarray]:
        prepare = self.preparer(modality)
        return self.embed_prepared(modality, self.collate(modality, [prepare(x) for x in raw]))

    def encode(self, modality: str, raw: Sequence[Any], space: str = SHARED) -> np.ndarray:
        """(n, d) float32 L2-normalised vectors of raw items (strings, PIL images) in one space."""
        vectors = self.embed(modality, raw)
        if space not in vectors:
            raise BadInput(f"{self.model_id}: {modality} has no vectors in space {space!r}; it has {sorted(vectors)}")
        return vectors[space]

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        """The spaces a modality is embedded into (SHARED first)."""
        self._check(modality)
        return (SHARED,)

    def _check(self, modality: str) -> None:
        if modality not in self.modalities:
            raise BadInput(f"encoder {self.model_id} does not accept {modality!r}; it accepts {self.modalities}")
