"""From a config to a trained model: load the towers, prepare the data once (features cached, or files read
for a trainable tower), then fit any number of models on it (a training run fits one, a tuning study many)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..encoders.conse import BridgeSettings
from ..encoders.devices import torch_device
from ..encoders.offline import OfflineEncoder
from ..encoders.registry import OFFLINE_MODELS
from ..errors import BadInput
from ..losses import build_loss
from .augment import ImageAugment, WordDropout
from .batches import CachedFeatures, LiveImages, PairBatches, Source
from .config import ModelConfig, TrainConfig
from .corpus import CaptionCorpus
from .features import image_features, prepare_view, read_images, text_features
from .fused_model import FusedItemModel, build_trained_model
from .fusion_data import fused_item_data
from .model import RetrievalModel
from .sampler import EpochSampler
from .towers import OfflineTowers
from .trainer import Trainer, TrainResult
from .validation import Validator


@dataclass
class PreparedData:
    key: str  # data_key of the config it was prepared for
    towers: OfflineTowers
    train: CaptionCorpus
    validation: CaptionCorpus
    images: Source
    texts: Source
    validator: Validator

    def batches(self, batch_size: int, seed: int) -> PairBatches:
        return PairBatches(EpochSampler(self.train.captions_of(), batch_size, seed), self.images, self.texts)


def load_towers(config: ModelConfig, encoder: OfflineEncoder | None = None) -> OfflineTowers:
    """The towers of `config`, on a given (already loaded) encoder or a new one."""
    towers = OFFLINE_MODELS[config.base]
    if encoder is None:
        encoder = OfflineEncoder(precision=config.precision, bridge=BridgeSettings(**towers))
    elif encoder.precision != config.precision:
        raise BadInput(f"model.precision is {config.precision!r} but the given encoder runs {encoder.precision!r}")
    elif (encoder.settings.text_tower, encoder.settings.image_tower) != (towers["text_tower"], towers["image_tower"]):
        raise BadInput(f"model.base is {config.base!r} (towers {towers['text_tower']} and {towers['image_tower']}) "
                       f"but the given encoder has {encoder.settings.text_tower} and {encoder.settings.image_tower}")
    return OfflineTowers(encoder, config.image_inputs)


def prepare_data(config: TrainConfig, towers: OfflineTowers, progress: bool = False) -> PreparedData:
    train = CaptionCorpus.from_datasets(spec.load() for spec in config.data.train).first_captions(
        config.data.captions_per_image)
    validation = CaptionCorpus.from_datasets([config.data.validation.load()])
    if config.fusion is not None:
        return _fused_items(config, towers, train, validation, progress)
    if config.model.unfreeze_last_block:
        train, images = _live_images(config, towers, train, progress)
        validation, validation_images = _prepared_pixels(towers, validation, progress)
    else:
        train, images = _cached_images(config, towers, train, config.augment.image_views, progress)
        validation, clean_views = _cached_images(config, towers, validation, 1, progress)
        validation_images = clean_views.features[:, 0]
    dropout = WordDropout(config.augment.word_dropout)
    texts = text_features(towers, train.texts, config.augment.text_views, dropout, config.feature_dir, progress)
    validation_texts = text_features(towers, validation.texts, 1, dropout, config.feature_dir, progress)[:, 0]
    validator = Validator(torch.from_numpy(validation_images), torch.from_numpy(validation_texts),
                          validation.relevance())
    return PreparedData(data_key(config), towers, train, validation, images, CachedFeatures(texts), validator)


def _fused_items(config: TrainConfig, towers: OfflineTowers, train: CaptionCorpus, validation: CaptionCorpus,
                 progress: bool) -> PreparedData:
    train, images = _cached_images(config, towers, train, config.augment.image_views, progress)
    validation, validation_images = _cached_images(config, towers, validation, 1, progress)
    return PreparedData(data_key(config), towers, *fused_item_data(config, towers, train, images.features, validation,
                                                                    validation_images.features, progress))


def fit(config: TrainConfig, data: PreparedData, checkpoint: Path | None = None, progress: bool = False,
        device: str = "cpu") -> tuple[RetrievalModel | FusedItemModel, TrainResult]:
    """A model built (seeded) and trained as `config` says, on `device` (auto|cpu|cuda|cuda:N|mps); it ends on the
    CPU holding its best validated weights."""
    if data_key(config) != data.key:
        raise BadInput("the data were prepared for another config (data, towers or augmentation differ)")
    device = torch_device(device)
    torch.manual_seed(config.training.seed)
    model = build_trained_model(config, data.towers)
    loss = build_loss(config.loss.name, **config.loss.options)
    trainer = Trainer(model, loss, data.batches(config.training.batch_size, config.training.seed), data.validator,
                      config.training, config.optimizer, checkpoint, fingerprint(config), progress, device)
    return model, trainer.fit()


def fingerprint(config: TrainConfig) -> str:
    """Identifies what a checkpoint depends on: the config less where things are written, and tuning."""
    relevant = {k: v for k, v in config.to_dict().items() if k not in ("output", "cache_dir", "tune")}
    if config.fusion is None:
        del relevant["fusion"]  # the fingerprints of runs from before fusion existed stay valid
    if config.data.captions_per_image is None:
        del relevant["data"]["captions_per_image"]  # likewise for runs from before the caption limit
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def data_key(config: TrainConfig) -> str:
    """Identifies what prepare_data depends on."""
    model = config.model
    fusion = config.fusion
    relevant = [config.to_dict()["data"], model.base, model.precision, model.image_inputs, model.unfreeze_last_block,
                config.to_dict()["augment"], str(config.feature_dir), fusion and fusion.title_caption]
    return hashlib.sha256(json.dumps(relevant).encode()).hexdigest()


def image_augment(config: TrainConfig) -> ImageAugment:
    augment = config.augment
    return ImageAugment(crop_scale=augment.crop_scale, crop_ratio=augment.crop_ratio, flip=augment.flip,
                        color_jitter=augment.color_jitter)


def _cached_images(config: TrainConfig, towers: OfflineTowers, corpus: CaptionCorpus, views: int,
                   progress: bool) -> tuple[CaptionCorpus, CachedFeatures]:
    features, failed = image_features(towers, corpus.images, views, image_augment(config), config.feature_dir, progress)
    return corpus.without_images(failed), CachedFeatures(np.delete(features, failed, axis=0))


def _live_images(config: TrainConfig, towers: OfflineTowers, corpus: CaptionCorpus,
                 progress: bool) -> tuple[CaptionCorpus, LiveImages]:
    contents, failed = read_images(corpus.images, towers.preparer(), progress)
    kept = [data for data in contents if data]  # a failed file's bytes are empty
    corpus = corpus.without_images(failed)
    augment = image_augment(config) if config.augment.image_views > 1 else None
    return corpus, LiveImages(corpus.images, kept, towers.preparer(), augment)


def _prepared_pixels(towers: OfflineTowers, corpus: CaptionCorpus, progress: bool) -> tuple[CaptionCorpus, np.ndarray]:
    contents, failed = read_images(corpus.images, towers.preparer(), progress)
    pixels = [prepare_view(item, data, towers.preparer(), None, None)
              for item, data in zip(corpus.images, contents) if data]
    return corpus.without_images(failed), np.stack(pixels)
