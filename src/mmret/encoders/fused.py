"""An encoder of multimodal items: a base encoder plus a feature-level fusion of an item's image and text vectors.

Its model id is the base's with `+fusion:NAME`, which is how a collection records the fusion with the model.
Besides the base's spaces it has one space per part (`part-image`, `part-text`: the base's shared vectors of
that part), so search can target a part or fuse the parts' result lists. Its shared space holds the fused item
vectors: `fuse` makes them from the parts an item has.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import fusion as fusions  # its torch modules load when a fusion is built or run
from ..errors import BadInput
from .base import SHARED, Encoder
from .model_id import ModelId
from .wrapped import WrappedEncoder

#: the parts of an item, in the order a fusion module takes them
FUSED_MODALITIES = ("image", "text")
PART_SPACES = {modality: f"part-{modality}" for modality in FUSED_MODALITIES}


class FusedEncoder(WrappedEncoder):
    def __init__(self, base: Encoder, name: str, fusion: fusions.FeatureFusion | None = None):
        missing = [m for m in FUSED_MODALITIES if m not in base.modalities]
        if missing:
            raise BadInput(f"fusion {name!r}: model {base.model_id} does not embed {missing}")
        dim = base.spaces[SHARED]
        self.fusion = fusion if fusion is not None else fusions.WeightedMeanFusion((dim, dim), dim, learnable=False)
        if self.fusion.in_dims != (dim, dim) or self.fusion.dim != dim:
            raise BadInput(f"fusion {name!r}: fuses {list(self.fusion.in_dims)} -> {self.fusion.dim}, but model "
                           f"{base.model_id} embeds into {dim} dimensions")
        self.base, self.name = base, name
        self.model_id = str(ModelId.parse(base.model_id).with_fusion(name))
        self.modalities = base.modalities
        self.spaces = {**base.spaces, **{space: dim for space in PART_SPACES.values()}}

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        part = (PART_SPACES[modality],) if modality in PART_SPACES else ()
        return super().spaces_for(modality) + part

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        """The base's vectors, plus the shared vector again in the modality's part space (a query in a part
        space is the query's shared vector)."""
        vectors = self.base.embed_prepared(modality, batch)
        if modality in PART_SPACES:
            vectors[PART_SPACES[modality]] = vectors[SHARED]
        return vectors

    def fuse(self, parts: dict[str, np.ndarray], n: int) -> np.ndarray:
        """(n, dim) fused vectors of n items from {modality: (n, dim) shared vectors} of the parts they all have."""
        dim = self.spaces[SHARED]
        arrays = [parts.get(m, np.zeros((n, dim), np.float32)) for m in FUSED_MODALITIES]
        mask = np.array([[m in parts for m in FUSED_MODALITIES]] * n, dtype=bool).reshape(n, len(FUSED_MODALITIES))
        return fusions.fuse_vectors(self.fusion, arrays, mask)

    def adapt_queries(self, vectors: np.ndarray) -> np.ndarray:
        """Text queries' (n, dim) shared vectors moved into the fused items' space (unchanged by most fusions)."""
        return fusions.adapt_queries(self.fusion, vectors)


def with_fusion(encoder: Encoder, name: str) -> FusedEncoder:
    """`encoder` fusing items' image and text vectors with the fusion `name`: the trained module of a model trained
    with a `fusion:` section of that method, or (name "mean" on any model) the untrained mean of the parts."""
    if isinstance(encoder, FusedEncoder):
        encoder = encoder.base
    trained = getattr(encoder, "fusion", None)
    method = encoder.record["fusion"]["method"] if trained is not None else None
    if name == method:
        return FusedEncoder(encoder, name, trained)
    if name == "mean":
        return FusedEncoder(encoder, name)
    if name not in fusions.FUSIONS:
        raise BadInput(f"unknown fusion {name!r}; choose from {sorted(fusions.FUSIONS)}")
    held = f"holds a trained {method!r} fusion" if method else "has no trained fusion"
    raise BadInput(f"fusion {name!r} must be trained: model {encoder.model_id} {held}; train one with "
                   f"`mmret train` and a `fusion: {{method: {name}}}` section, or use --fusion mean")
