"""The pixels a Hugging Face image processor makes, reproduced with PIL and numpy alone (no torch, no
transformers), so that ONNX model folders prepare images exactly as their PyTorch source does."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..data.decode import load_rgb

# A big JPEG is decoded at the smallest DCT scale that keeps it >= 2x the resize target, Pillow's default
# reducing_gap for thumbnail() ("very close to fair resampling"); tests/encoders/test_hf.py bounds the effect.
DRAFT_REDUCING_GAP = 2


@dataclass(frozen=True)
class ImagePreparer:
    """PIL image (lazily opened or loaded) -> float32 (3, H, W) pixel values, as the model's image processor
    makes them: resize (shorter side to `shortest_edge`, or to exactly `resize_to` = (h, w)), centre crop
    to `crop` = (h, w), rescale, normalise."""

    shortest_edge: int | None
    resize_to: tuple[int, int] | None
    crop: tuple[int, int] | None
    resample: int
    rescale_factor: float | None
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    def __call__(self, image: Image.Image) -> np.ndarray:
        image = load_rgb(image, min_side=self._draft_side())
        image = self._resize(image)
        if self.crop:
            image = _centre_crop(image, self.crop)
        pixels = np.asarray(image).transpose(2, 0, 1)
        # the processor's arithmetic: rescale in float64, then normalise in float32
        if self.rescale_factor is not None:
            pixels = pixels.astype(np.float64) * self.rescale_factor
        pixels = pixels.astype(np.float32)
        if self.mean is not None:
            mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
            std = np.asarray(self.std, dtype=np.float32)[:, None, None]
            pixels = (pixels - mean) / std
        return np.ascontiguousarray(pixels)

    def _draft_side(self) -> int | None:
        target = self.shortest_edge or (max(self.resize_to) if self.resize_to else None)
        return target * DRAFT_REDUCING_GAP if target else None

    def _resize(self, image: Image.Image) -> Image.Image:
        if self.resize_to:
            height, width = self.resize_to
        elif self.shortest_edge:
            height, width = _shorter_side_to(image.size, self.shortest_edge)
        else:
            return image
        return image.resize((width, height), resample=self.resample)


def _shorter_side_to(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """(height, width) with the shorter side = edge, the longer truncated as transformers does."""
    width, height = size
    if width <= height:
        return int(edge * height / width), edge
    return edge, int(edge * width / height)


def _centre_crop(image: Image.Image, crop: tuple[int, int]) -> Image.Image:
    """transformers' centre crop: floor offsets; a side smaller than the crop is padded with black."""
    height, width = crop
    top = (image.height - height) // 2
    left = (image.width - width) // 2
    return image.crop((left, top, left + width, top + height))
