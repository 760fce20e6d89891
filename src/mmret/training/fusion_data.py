"""Photo+title items from captions data sets, for training a fusion model: caption `title_caption` of each image
is the item's title, the other captions are its queries."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import BadInput
from .augment import WordDropout
from .batches import CachedFeatures
from .config import TrainConfig
from .corpus import CaptionCorpus
from .features import text_features
from .fused_model import FUSED_MODALITIES, pack_items
from .towers import OfflineTowers
from .validation import Validator


class FusedItems:
    """Packed items (fused_model.pack_items) of rows: a random view of the image features, the title features,
    and, with probability `dropout`, one of the two parts marked missing."""

    def __init__(self, images: np.ndarray, titles: np.ndarray, dropout: float = 0.0):
        self.images, self.titles, self.dropout = images, titles, dropout

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Tensor:
        views = rng.integers(self.images.shape[1], size=len(rows))
        mask = np.ones((len(rows), len(FUSED_MODALITIES)), dtype=bool)
        if self.dropout:
            dropped = np.flatnonzero(rng.random(len(rows)) < self.dropout)
            mask[dropped, rng.integers(len(FUSED_MODALITIES), size=len(dropped))] = False
        return pack_items(torch.from_numpy(self.images[rows, views]), torch.from_numpy(self.titles[rows]),
                          torch.from_numpy(mask))


def split_titles(corpus: CaptionCorpus, title_caption: int) -> tuple[list[str], CaptionCorpus]:
    """Each image's title, and the corpus of the remaining captions (the queries)."""
    captions_of = corpus.captions_of()
    short = [corpus.images[i].path or corpus.images[i].id for i, rows in enumerate(captions_of) if len(rows) <= title_caption + 1]
    if short:
        raise BadInput(f"fusion.title_caption {title_caption}: {len(short)} images have no caption left as a "
                       f"query once it is their title, e.g. {short[0]}")
    titles = [corpus.texts[rows[title_caption]] for rows in captions_of]
    queries = [np.delete(rows, title_caption) for rows in captions_of]
    rows = np.concatenate(queries)
    return titles, CaptionCorpus(corpus.images, [corpus.texts[r] for r in rows], corpus.image_of_text[rows])


def fused_item_data(config: TrainConfig, towers: OfflineTowers, train: CaptionCorpus, train_images: np.ndarray,
                    validation: CaptionCorpus, validation_images: np.ndarray, progress: bool = False) -> tuple:
    """(train queries, validation queries, train item source, train query source, validator) for PreparedData,
    from the corpora and their (n, views, d) image features (images that failed to decode already left out)."""
    fusion = config.fusion
    train_titles, train = _titles(config, towers, train, progress)
    validation_titles, validation = _titles(config, towers, validation, progress)
    dropout = WordDropout(config.augment.word_dropout)
    texts = text_features(towers, train.texts, config.augment.text_views, dropout, config.feature_dir, progress)
    validation_texts = text_features(towers, validation.texts, 1, dropout, config.feature_dir, progress)[:, 0]
    everything = np.ones((len(validation.images), len(FUSED_MODALITIES)), dtype=bool)
    packed = pack_items(torch.from_numpy(validation_images[:, 0]), torch.from_numpy(validation_titles),
                        torch.from_numpy(everything))
    validator = Validator(packed, torch.from_numpy(validation_texts), validation.relevance())
    return (train, validation, FusedItems(train_images, train_titles, fusion.modality_dropout), CachedFeatures(texts),
            validator)


def _titles(config: TrainConfig, towers: OfflineTowers, corpus: CaptionCorpus,
            progress: bool) -> tuple[np.ndarray, CaptionCorpus]:
    titles, queries = split_titles(corpus, config.fusion.title_caption)
    return text_features(towers, titles, 1, WordDropout(0.0), config.feature_dir, progress)[:, 0], queries
