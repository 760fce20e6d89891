"""Safe image decoding: every way a file can be bad becomes a DecodeError naming the file and the reason.

Decoding is split so that a model's preparer can shrink a JPEG while it decodes (PIL's draft mode):
`open_image` reads and checks the header (cheap, lazy), `load_rgb` decodes the pixels.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import BadInput


class DecodeError(BadInput):
    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class DecodeLimits:
    max_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 64_000_000  # a decompression bomb is refused before its pixels are decoded
    # A preparer scales the shorter side up to its input size, so a 1x20000 strip would become gigapixels:
    # past this ratio an image is refused from its header; below it a resized copy stays within ~100 x side^2.
    max_aspect: float = 100.0


DEFAULT_LIMITS = DecodeLimits()


def read_bytes(path: str | Path, limits: DecodeLimits = DEFAULT_LIMITS) -> bytes:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise DecodeError(str(path), "empty file")
        if size > limits.max_bytes:
            raise DecodeError(str(path), f"file too large ({size} bytes > {limits.max_bytes})")
        return path.read_bytes()
    except OSError as e:
        raise DecodeError(str(path), f"cannot read: {e.strerror or e}") from e


def open_image(data: bytes, where: str, limits: DecodeLimits = DEFAULT_LIMITS) -> Image.Image:
    """A lazily decoded image whose header has been checked (format known, size within limits)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as e:
        raise DecodeError(where, "not an image (unrecognised format)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DecodeError(where, f"image too large (decompression bomb): {e}") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise DecodeError(where, f"truncated or corrupt image header: {e}") from e
    check_picture_size(*image.size, where, limits)
    return image


def check_picture_size(width: int, height: int, where: str, limits: DecodeLimits = DEFAULT_LIMITS,
                       what: str = "image") -> None:
    """Refuse a picture (an image, a video's frames) of too many pixels, none, or an absurd aspect ratio."""
    if width * height > limits.max_pixels:
        raise DecodeError(where, f"{what} too large ({width}x{height} > {limits.max_pixels} pixels)")
    if width == 0 or height == 0:
        raise DecodeError(where, f"{what} has no pixels ({width}x{height})")
    if max(width, height) > limits.max_aspect * min(width, height):
        raise DecodeError(where, f"absurd aspect ratio ({width}x{height}, more than {limits.max_aspect:g}:1)")


def load_rgb(image: Image.Image, min_side: int | None = None, where: str = "image") -> Image.Image:
    """Decode the pixels as RGB, upright per EXIF. With `min_side`, a JPEG may be decoded at a reduced
    scale whose shorter side stays >= min_side (much faster for big photos)."""
    try:
        if min_side and image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "P"):
            image = _flatten_on_white(image)
        elif image.mode == "I" or image.mode.startswith("I;16"):  # PIL would clip 16-bit values to white
            image = image.convert("I").point(lambda value: value / 256).convert("L")
        return image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as e:
        raise DecodeError(where, f"truncated or corrupt image data: {e}") from e


def _flatten_on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    return canvas


def read_image(path: str | Path, min_side: int | None = None, limits: DecodeLimits = DEFAULT_LIMITS) -> Image.Image:
    """Read, check and decode an image file as RGB."""
    return load_rgb(open_image(read_bytes(path, limits), str(path), limits), min_side, str(path))
