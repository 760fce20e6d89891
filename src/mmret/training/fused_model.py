"""A model of multimodal items (model-level fusion): the image head and the text head of a RetrievalModel put an
item's photo and title into the shared space, and a fusion module makes one vector of them; queries go through
the text head. Items travel through the trainer as one packed tensor (see `pack_items`), so the training loop,
validation and checkpoints treat them like image features.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encoders.fused import FUSED_MODALITIES
from ..fusion import FeatureFusion, build_fusion
from .config import FusionConfig, TrainConfig
from .model import RetrievalModel, build_model
from .towers import OfflineTowers

__all__ = ["FUSED_MODALITIES", "FusedItemModel", "build_trained_model", "pack_items", "unpack_items"]


def pack_items(image_features: Tensor, title_features: Tensor, mask: Tensor) -> Tensor:
    """(n, image_dim + text_dim + 2): the image tower features, the title's text features and the presence flags."""
    return torch.cat([image_features, title_features, mask.to(image_features.dtype)], dim=1)


def unpack_items(items: Tensor, image_dim: int) -> tuple[Tensor, Tensor, Tensor]:
    return items[:, :image_dim], items[:, image_dim:-2], items[:, -2:] > 0.5


class FusedItemModel(nn.Module):
    """embed_images(packed items) -> fused item vectors; embed_texts(text features) -> query vectors (adapted by the
    fusion's query side, if any); both unit."""

    image_tower = None  # frozen towers only
    takes_pixels = False

    def __init__(self, heads: RetrievalModel, fusion: FeatureFusion, image_dim: int):
        super().__init__()
        self.image_head, self.text_head = heads.image_head, heads.text_head
        self.fusion = fusion
        self.image_dim = image_dim

    def embed_images(self, items: Tensor) -> Tensor:
        image, title, mask = unpack_items(items, self.image_dim)
        return F.normalize(self.fusion([self.project_images(image), self.project_texts(title)], mask), dim=-1)

    def project_images(self, features: Tensor) -> Tensor:
        return F.normalize(self.image_head(features), dim=-1)

    def project_texts(self, features: Tensor) -> Tensor:
        """A text's shared vector, as an item's title part (and as an unadapted query)."""
        return F.normalize(self.text_head(features), dim=-1)

    def embed_texts(self, features: Tensor) -> Tensor:
        """Query vectors: the text's shared vector moved by the fusion's query side (if it has one)."""
        return F.normalize(self.fusion.adapt_query(self.project_texts(features)), dim=-1)


def build_fusion_module(fusion: FusionConfig, dim: int) -> FeatureFusion:
    return build_fusion(fusion.method, (dim,) * len(FUSED_MODALITIES), dim, fusion.residual, **fusion.options)


def build_trained_model(config: TrainConfig, towers: OfflineTowers) -> RetrievalModel | FusedItemModel:
    """The model a config trains: heads only, or heads and a fusion module when it has a fusion section."""
    heads = build_model(config.model, towers)
    if config.fusion is None:
        return heads
    return FusedItemModel(heads, build_fusion_module(config.fusion, config.model.dim), towers.image_dim)
