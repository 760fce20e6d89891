"""Query vectors: each part's unit vector in the space searched (a stored item's stored vector, else the encoder's),
composed into one query vector."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..encoders.base import SHARED, Encoder
from ..encoders.fused import PART_SPACES, FusedEncoder
from ..errors import BadInput
from .parts import ITEM, QueryPart, compose_vector
from .request import Query
from .spaces import default_space
from .stored_parts import StoredParts

if TYPE_CHECKING:  # PIL and the audio decoders load only for an image or audio query part
    from PIL import Image


def query_vector(encoder: Encoder | None, query: Query, stored: StoredParts | None = None) -> tuple[np.ndarray, str]:
    """The unit query vector of the query's parts and the space it searches (against fused items, text parts are
    first moved by the fusion's query side). `stored` holds the stored items the parts name, if any."""
    parts = query.all_parts
    stored = StoredParts(None, parts) if stored is None else stored
    space = query.space or default_space(encoder, parts, stored)
    vectors = np.stack([part_vector(encoder, part, space, stored) for part in parts])
    fusing = encoder if isinstance(encoder, FusedEncoder) and space == SHARED else None  # None: no fusable parts
    texts = [i for i, part in enumerate(parts) if part.modality == "text"]
    if fusing is not None and texts:
        vectors[texts] = fusing.adapt_queries(vectors[texts])
    return compose_vector(parts, vectors, fusing), space


def part_vector(encoder: Encoder | None, part: QueryPart, space: str, stored: StoredParts) -> np.ndarray:
    """The unit vector of one query part in a space: a stored item's stored vector there, else the encoder's (in
    a part space of a fusion collection: its shared vector, as the parts are the items' shared vectors)."""
    if part.modality == ITEM:
        return stored.vector(part.value, space)
    if encoder is None:
        raise BadInput(f"a {part.modality} query part needs the collection's model")
    space = SHARED if space in PART_SPACES.values() else space
    if part.modality == "text":
        return encoder.encode("text", [str(part.value)], space)[0]
    if part.modality == "image":
        return encoder.encode("image", [_image(part.value)], space)[0]
    from ..data.audio import Waveform, read_audio

    audio = part.value if isinstance(part.value, Waveform) else read_audio(Path(part.value).expanduser())
    return encoder.encode("audio", [audio], space)[0]


def _image(image: str | Path | Image.Image) -> Image.Image:
    """A query image: already decoded (an upload), or a file to open."""
    from PIL import Image

    from ..data.decode import open_image, read_bytes

    if isinstance(image, Image.Image):
        return image
    path = str(Path(image).expanduser())
    return open_image(read_bytes(path), path)
