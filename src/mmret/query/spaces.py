"""The space a query part searches: the shared space, the image tower's own, or a fusion collection's part spaces."""
from __future__ import annotations

from ..encoders.base import SHARED, Encoder
from ..encoders.fused import PART_SPACES, FusedEncoder
from ..encoders.model_id import ModelId
from ..media.face_vectors import FACE_SPACE
from .parts import ITEM, QueryPart
from .stored_parts import StoredParts


def list_spaces(encoder: Encoder | None, part: QueryPart, space: str | None, stored: StoredParts) -> list[str]:
    if space is not None:
        return [space]
    if is_fused(encoder, stored):
        spaces = list(PART_SPACES.values())
        if part.modality != ITEM:
            return spaces
        return [s for s in spaces if stored.has_vector(part.value, s)] or spaces  # none: the error names the first
    return [default_space(encoder, [part], stored)]


def default_space(encoder: Encoder | None, parts: list[QueryPart], stored: StoredParts) -> str:
    """Image-only queries use the image tower's own space when the model has one (it retrieves images better);
    a stored item counts as an image there when it has a vector in that space (a photo, a video's shot), except in
    a fusion collection, where the item is its fused vector."""
    items = any(part.modality == ITEM for part in parts)
    if any(part.modality not in ("image", ITEM) for part in parts) or items and is_fused(encoder, stored):
        return SHARED
    own = image_space(encoder, stored)
    if own is None or not all(part.modality == "image" or stored.has_vector(part.value, own) for part in parts):
        return SHARED
    return own


def is_fused(encoder: Encoder | None, stored: StoredParts) -> bool:
    """Whether the collection holds fused items (its model id records the fusion when there is no encoder)."""
    if encoder is not None:
        return isinstance(encoder, FusedEncoder)
    return ModelId.parse(stored.store.model_id).fusion is not None


def image_space(encoder: Encoder | None, stored: StoredParts) -> str | None:
    """The image tower's own space, if the model has one; without the encoder, the collection's space that is
    neither shared, nor a part space, nor the face space (a collection's other spaces are its model's, and only image
    towers add one)."""
    if encoder is not None and "image" not in encoder.modalities:
        return None
    spaces = stored.store.spaces if encoder is None else encoder.spaces_for("image")
    return next((s for s in spaces if s not in (SHARED, FACE_SPACE) and s not in PART_SPACES.values()), None)
