"""Image-caption pairs from one or several captions data sets, as flat lists the trainer indexes by row."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..data.datasets import TEXT_TO_IMAGE, RetrievalDataset
from ..data.items import Item


@dataclass(frozen=True)
class CaptionCorpus:
    images: list[Item]
    texts: list[str]
    image_of_text: np.ndarray  # (n_texts,) the image row each caption describes

    @classmethod
    def from_datasets(cls, datasets: Iterable[RetrievalDataset]) -> CaptionCorpus:
        images, texts, image_of_text = [], [], []
        for dataset in datasets:
            offset = len(images)
            images.extend(dataset.images)
            texts.extend(item.text for item in dataset.texts)
            image_of_text.extend(offset + dataset.relevance(TEXT_TO_IMAGE).argmax(axis=1))
        return cls(images, texts, np.asarray(image_of_text, dtype=np.int64))

    def captions_of(self) -> list[np.ndarray]:
        """The caption rows of each image."""
        order = np.argsort(self.image_of_text, kind="stable")
        bounds = np.searchsorted(self.image_of_text[order], np.arange(len(self.images) + 1))
        return [order[bounds[i]:bounds[i + 1]] for i in range(len(self.images))]

    def relevance(self) -> np.ndarray:
        """(n_texts, n_images) bool: caption i describes image j."""
        return self.image_of_text[:, None] == np.arange(len(self.images))[None, :]

    def first_captions(self, count: int | None) -> CaptionCorpus:
        """The corpus with each image's first `count` captions only (None: all of them)."""
        if count is None:
            return self
        keep = np.zeros(len(self.texts), dtype=bool)
        for rows in self.captions_of():
            keep[rows[:count]] = True
        return CaptionCorpus(self.images, [text for text, k in zip(self.texts, keep) if k], self.image_of_text[keep])

    def without_images(self, rows: Sequence[int]) -> CaptionCorpus:
        """The corpus minus some images (those that failed to decode) and their captions."""
        drop = np.zeros(len(self.images), dtype=bool)
        drop[list(rows)] = True
        new_row = np.cumsum(~drop) - 1
        keep_text = ~drop[self.image_of_text]
        return CaptionCorpus([item for item, d in zip(self.images, drop) if not d],
                             [text for text, k in zip(self.texts, keep_text) if k],
                             new_row[self.image_of_text[keep_text]])
