"""Decoding what a request brings or asks for within bounded memory: pictures shrunk while they are decoded (never
kept at full resolution), at most a budget of decoded bytes at once across requests, and only the first minute
of an uploaded recording."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from ..data.audio import Waveform, iter_audio
from ..data.decode import check_picture_size, load_rgb, open_image, read_bytes

GiB = 1024 ** 3
QUERY_SIDE = 1024  # a query picture fits in this square: models take 224-512 pixels a side
STRIP_PIXELS = 1 << 20  # pixels reduced at a time
QUERY_AUDIO_SECONDS = 60.0  # an uploaded recording is searched by its first minute


def default_decode_budget() -> int:
    """An eighth of the machine's memory, at most 1 GiB."""
    return min(GiB, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 8)


class DecodeBudget:
    """A semaphore counted in bytes: decodes wait while those running hold the budget (one larger than the whole
    budget runs alone)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self._changed = threading.Condition()

    @contextmanager
    def holding(self, size: int):
        size = min(size, self.capacity)
        with self._changed:
            self._changed.wait_for(lambda: self.held + size <= self.capacity)
            self.held += size
        try:
            yield
        finally:
            with self._changed:
                self.held -= size
                self._changed.notify_all()


def small_picture(path: Path, side: int, budget: DecodeBudget) -> Image.Image:
    """The image file as RGB, fitted in a `side` square: a JPEG decoded at a reduced scale, anything else decoded
    once and reduced strip by strip (no second full-size copy); the full-size pixels count against `budget`."""
    image = open_image(read_bytes(path), str(path))
    with budget.holding(decoded_bytes(image)):
        image.draft("RGB", (2 * side, 2 * side))  # JPEG only; a no-op for other formats
        factor = max(image.size) // (2 * side)
        reduced = _reduce_in_strips(image, factor) if factor > 1 else image
        reduced.thumbnail((side, side))
        return load_rgb(reduced, where=str(path))


def _reduce_in_strips(image: Image.Image, factor: int) -> Image.Image:
    """`image.reduce(factor)` (a box average) a band of rows at a time: PIL's reduce and resize of an image with
    alpha first make a premultiplied full-size copy, 256 MB for a 64-megapixel picture."""
    image.load()
    width, height = image.size
    reduced = Image.new(image.mode, (width // factor, height // factor))
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    for top in range(0, reduced.height * factor, rows):
        strip = image.crop((0, top, reduced.width * factor, min(top + rows, reduced.height * factor)))
        reduced.paste(strip.reduce(factor), (0, top // factor))
    reduced.info = dict(image.info)  # keeps the EXIF orientation for load_rgb
    return reduced


def decoded_bytes(image: Image.Image) -> int:
    check_picture_size(*image.size, "image")
    return image.width * image.height * max(4, len(image.getbands()))


def first_minute(path: Path) -> Waveform:
    """The recording's first QUERY_AUDIO_SECONDS, decoded without reading the rest."""
    pieces = iter_audio(path, piece_seconds=QUERY_AUDIO_SECONDS)
    try:
        return next(pieces)
    finally:
        pieces.close()
