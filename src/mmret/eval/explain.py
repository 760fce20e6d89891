"""Why did a text match an image? Three views, each an exact or measured share of the score cos(text, image):

- words (any encoder): leave-one-word-out, a word's share = score - score of the text without that word.
- classes (the offline pack): its image vector is ConSE's normalised mixture of ImageNet class-name embeddings,
  v = sum_c w_c e_c / ||sum_c w_c e_c||, so the score splits exactly into per-class shares
  w_c cos(text, e_c) / ||sum_c w_c e_c||, which add up to the score. Each class also shows the classifier's own
  probability p(class).
- heat map (any encoder; CLIP-like models by default): occlusion over a grid. Each cell of the image in turn is
  filled with the image's mean colour, and the drop in score is that region's share: positive where the region
  supports the match, negative where it argues against it.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..data.decode import read_image
from ..encoders.base import SHARED, Encoder
from ..errors import BadInput

TOP_CLASSES = 5
GRID = 7
WORD_BATCH = 16  # texts embedded between checks of the deadline


@dataclass(frozen=True)
class WordShare:
    word: str
    share: float  # score - score without this word


@dataclass(frozen=True)
class ClassShare:
    name: str
    probability: float  # the classifier's softmax probability
    weight: float  # the class's weight in the bridge's mixture
    similarity: float  # cos(text, class-name embedding)
    share: float  # this class's exact part of the score


@dataclass
class Explanation:
    text: str
    image: str
    score: float
    words: list[WordShare]
    classes: list[ClassShare] = field(default_factory=list)  # the largest shares, offline pack only
    heatmap: np.ndarray | None = None  # (GRID, GRID) score drop when each cell is hidden

    def to_dict(self) -> dict:
        data = asdict(self)
        data["heatmap"] = None if self.heatmap is None else np.round(self.heatmap, 5).tolist()
        return data

    def save_heatmap(self, path: str | Path) -> Path:
        """The heat map over the image as a PNG."""
        from .plots import heatmap_overlay

        if self.heatmap is None:
            raise BadInput("this explanation has no heat map; call explain(..., heatmap=True)")
        return heatmap_overlay(read_image(self.image), self.heatmap, Path(path))


def explain(encoder: Encoder, text: str, image_path: str | Path, heatmap: bool | None = None,
            top_classes: int = TOP_CLASSES, grid: int = GRID, deadline: float | None = None) -> Explanation:
    """Explain the score of `text` against the image at `image_path` in the encoder's shared space.
    `heatmap=None` computes the heat map for encoders without class shares (CLIP-like models). Past `deadline`
    (a time.monotonic() value) the word shares stop with a TimeoutError."""
    image = read_image(image_path)
    prepared = encoder.preparer("image")(image)
    image_vector = encoder.embed_prepared("image", encoder.collate("image", [prepared]))[SHARED][0]
    text_vector = encoder.encode("text", [text])[0]
    score = float(text_vector @ image_vector)
    classes = class_shares(encoder, prepared, text_vector)[:top_classes] if _has_class_bridge(encoder) else []
    words = word_shares(encoder, text, image_vector, score, deadline)
    explanation = Explanation(text, str(image_path), score, words, classes)
    if heatmap or (heatmap is None and not classes):
        explanation.heatmap = occlusion_map(encoder, image, text_vector, grid)
    return explanation


def word_shares(encoder: Encoder, text: str, image_vector: np.ndarray, score: float,
                deadline: float | None = None) -> list[WordShare]:
    words = text.split()
    if not words:
        return []
    scores = []
    for first in range(0, len(words), WORD_BATCH):
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"explaining {len(words)} words: stopped after {first}, out of time")
        without = [" ".join(words[:i] + words[i + 1:]) for i in range(first, min(first + WORD_BATCH, len(words)))]
        scores.extend(encoder.encode("text", without) @ image_vector)
    return [WordShare(word, float(score - rest)) for word, rest in zip(words, scores)]


def class_shares(encoder: Encoder, prepared: np.ndarray, text_vector: np.ndarray) -> list[ClassShare]:
    """Every class with a weight in the offline bridge's mixture, largest share first."""
    from ..encoders.conse import imagenet_class_names

    bridge = encoder.bridge
    _, logits = encoder.image_tower(np.asarray(prepared)[None])
    weights = bridge.class_weights(_softmax(logits / bridge.temperature))[0]
    norm = float(np.linalg.norm(weights @ bridge.class_embeddings))
    similarity = bridge.class_embeddings @ text_vector
    probability = _softmax(logits)[0]
    names = imagenet_class_names()
    shares = [ClassShare(names[c], float(probability[c]), float(weights[c]), float(similarity[c]),
                         float(weights[c] * similarity[c] / norm)) for c in np.flatnonzero(weights)]
    return sorted(shares, key=lambda share: -share.share)


def occlusion_map(encoder: Encoder, image: Image.Image, text_vector: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(grid, grid): the score minus the score with that cell filled by the image's mean colour."""
    fill = tuple(int(v) for v in np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0))
    width, height = image.size
    variants = [image]
    for row in range(grid):
        for column in range(grid):
            hidden = image.copy()
            box = (column * width // grid, row * height // grid, (column + 1) * width // grid,
                   (row + 1) * height // grid)
            ImageDraw.Draw(hidden).rectangle(box, fill=fill)
            variants.append(hidden)
    prepare = encoder.preparer("image")
    vectors = encoder.embed_prepared("image", encoder.collate("image", [prepare(v) for v in variants]))[SHARED]
    scores = vectors @ text_vector
    return (scores[0] - scores[1:]).reshape(grid, grid)


def _has_class_bridge(encoder: Encoder) -> bool:
    from ..encoders.offline import OfflineEncoder

    return isinstance(encoder, OfflineEncoder)


def _softmax(logits: np.ndarray) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64)
    exp = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)
