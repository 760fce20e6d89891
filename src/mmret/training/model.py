"""Towers + projection heads into one shared space (DeViSE / LiT style).

The cheap default keeps both towers frozen, so the model proper is two small heads over cached tower
features: a linear or MLP head on the image features, and on the text features a head of its own or none at
all (identity: the text tower's space is the shared space, LiT's "locked text" variant turned around).
With the image tower's last block unfrozen, the model also owns that block and takes prepared pixels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import BadInput
from .config import ModelConfig
from .towers import LastBlockTower, OfflineTowers


class ProjectionHead(nn.Sequential):
    """linear: [dropout] -> Linear(in, out); mlp: [dropout] -> Linear(in, hidden) -> GELU -> Linear(hidden, out)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None, dropout: float = 0.0):
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout else []
        if hidden:
            layers += [nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim)]
        else:
            layers.append(nn.Linear(in_dim, out_dim))
        super().__init__(*layers)


class RetrievalModel(nn.Module):
    """embed_images(image tower features, or pixels with a trainable image tower) and embed_texts(text features)
    -> L2-normalised (n, dim) vectors in the shared space."""

    def __init__(self, image_head: nn.Module, text_head: nn.Module, image_tower: nn.Module | None = None):
        super().__init__()
        self.image_tower = image_tower
        self.image_head = image_head
        self.text_head = text_head

    @property
    def takes_pixels(self) -> bool:
        return self.image_tower is not None

    def image_features(self, inputs: Tensor) -> Tensor:
        """The image tower's features: computed from pixels by the trainable tower, else given as they are."""
        return self.image_tower(inputs) if self.image_tower is not None else inputs

    def embed_images(self, inputs: Tensor) -> Tensor:
        return self.project_images(self.image_features(inputs))

    def project_images(self, features: Tensor) -> Tensor:
        return F.normalize(self.image_head(features), dim=-1)

    def embed_texts(self, features: Tensor) -> Tensor:
        return self.project_texts(features)

    def project_texts(self, features: Tensor) -> Tensor:
        """A text's shared vector (a query's too: only a fusion model's queries differ, see FusedItemModel)."""
        return F.normalize(self.text_head(features), dim=-1)


def build_head(kind: str, in_dim: int, config: ModelConfig) -> nn.Module:
    if kind == "identity":
        if in_dim != config.dim:
            raise BadInput(f"model.dim: an identity head keeps its {in_dim}-d input, so dim must be {in_dim}, "
                           f"got {config.dim}")
        return nn.Identity()
    return ProjectionHead(in_dim, config.dim, config.hidden if kind == "mlp" else None, config.dropout)


def build_model(config: ModelConfig, towers: OfflineTowers) -> RetrievalModel:
    image_tower = LastBlockTower(towers) if config.unfreeze_last_block else None
    model = RetrievalModel(build_head(config.image_head, towers.image_dim, config),
                           build_head(config.text_head, towers.text_dim, config), image_tower)
    if config.init == "bridge":
        start_at_the_bridge(model, towers)
    return model


def start_at_the_bridge(model: RetrievalModel, towers: OfflineTowers) -> None:
    """Linear heads that reproduce the ConSE bridge: the image head passes its ConSE features through (and
    ignores the rest), the text head is the identity."""
    conse = towers.image_inputs.index("conse")
    start = sum(towers.input_dims[name] for name in towers.image_inputs[:conse])
    width = towers.input_dims["conse"]
    with torch.no_grad():
        for head, offset in ((model.image_head, start), (model.text_head, 0)):
            linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
            if linears:
                linears[0].weight.zero_()
                linears[0].weight[:, offset:offset + width] = torch.eye(width)
                linears[0].bias.zero_()
