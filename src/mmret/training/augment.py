"""Per-modality augmentation with PIL and numpy, driven by an explicit random generator (reproducible).

Images: random resized crop, horizontal flip and colour jitter; the result is a PIL image of the requested
size, which the encoder's own preparer then normalises. Texts: word dropout. (Picking one of an image's
captions at random is the epoch sampler's job.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

from ..data.decode import load_rgb

CROP_TRIES = 10


@dataclass(frozen=True)
class ImageAugment:
    size: int = 224
    crop_scale: tuple[float, float] = (0.6, 1.0)  # fraction of the image's area kept
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the crop
    flip: bool = True
    color_jitter: float = 0.2

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        image = load_rgb(image)
        image = random_resized_crop(image, rng, self.size, self.crop_scale, self.crop_ratio)
        if self.flip and rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if self.color_jitter:
            image = color_jitter(image, rng, self.color_jitter)
        return image


def random_resized_crop(image: Image.Image, rng: np.random.Generator, size: int,
                        scale: tuple[float, float], ratio: tuple[float, float]) -> Image.Image:
    """A random box of area fraction in `scale` and aspect ratio in `ratio` (log-uniform), resized to size x size.

    Falls back to the largest centred box of an allowed ratio when no random box fits (as torchvision does).
    """
    width, height = image.size
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(CROP_TRIES):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            return image.resize((size, size), Image.BICUBIC, box=(left, top, left + w, top + h))
    aspect = min(max(width / height, ratio[0]), ratio[1])
    w, h = (width, round(width / aspect)) if width / height < aspect else (round(height * aspect), height)
    left, top = (width - w) // 2, (height - h) // 2
    return image.resize((size, size), Image.BICUBIC, box=(left, top, left + w, top + h))


def color_jitter(image: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Brightness, contrast and saturation, each scaled by a factor from [1 - strength, 1 + strength], in random order."""
    enhancers = [ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color]
    for index in rng.permutation(len(enhancers)):
        image = enhancers[index](image).enhance(rng.uniform(1 - strength, 1 + strength))
    return image


@dataclass(frozen=True)
class WordDropout:
    """Drops each word with probability p; at least one word always survives."""

    p: float = 0.1

    def __call__(self, text: str, rng: np.random.Generator) -> str:
        words = text.split()
        if not words or not self.p:
            return text
        keep = rng.random(len(words)) >= self.p
        if not keep.any():
            keep[rng.integers(len(words))] = True
        return " ".join(w for w, k in zip(words, keep) if k)
