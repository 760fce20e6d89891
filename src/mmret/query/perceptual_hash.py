"""Perceptual hashes of photos (DCT pHash, 63 bits), for near-duplicates that the vectors miss: a photo's
half-size, recompressed or brightened copy hashes within 0-4 bits of it, a 90% crop within a median of 10, and two
different caltech101 photos as close as 8 (RESULTS.md "Near-duplicates").

The hash: the grey picture at 32x32, its 2-D DCT, the 8x8 lowest frequencies but the constant one, each bit set
where the coefficient is above their median. Hashes are computed from the files when first asked for (the files
must still be there) and kept per path, size and modification time for the life of the object."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..index.values import Record

if TYPE_CHECKING:  # PIL and the decoders load when a hash is first computed, not with every `mmret` command
    from PIL import Image

SIDE = 32
LOW = 8
BITS = LOW * LOW - 1


def _dct_matrix(n: int) -> np.ndarray:
    rows, columns = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    matrix = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * columns + 1) * rows / (2 * n))
    matrix[0] /= np.sqrt(2.0)
    return matrix


DCT = _dct_matrix(SIDE)


def phash(image: Image.Image) -> np.ndarray:
    """The picture's 63 hash bits (bool)."""
    from PIL import Image

    grey = np.asarray(image.convert("L").resize((SIDE, SIDE), Image.LANCZOS), dtype=np.float64)
    low = (DCT @ grey @ DCT.T)[:LOW, :LOW].ravel()[1:]
    return low > np.median(low)


class PerceptualHashes:
    """Hashes of stored photos, computed when first asked for; None for a record whose file cannot be read."""

    def __init__(self):
        self._known: dict[tuple, np.ndarray | None] = {}

    def of(self, record: Record) -> np.ndarray | None:
        if record.modality != "image" or not record.path:
            return None
        from ..data.decode import DecodeError, read_image

        key = (record.path, record.size, record.mtime)
        if key not in self._known:
            try:
                self._known[key] = phash(read_image(record.path, min_side=SIDE * 4))
            except (DecodeError, OSError):
                self._known[key] = None
        return self._known[key]

    def distance(self, a: Record, b: Record) -> int | None:
        """Differing bits of two photos' hashes (None unless both have one)."""
        first, second = self.of(a), self.of(b)
        return None if first is None or second is None else int((first != second).sum())
