"""Temporal pooling: a video shot's keyframe embeddings (n, d) -> one unit vector (d,).

mean_pool is the parameter-free baseline. AttentionPooling scores each frame with a small MLP and takes the
softmax-weighted mean over the real frames, so that uninformative frames (black frames, logos, transitions)
can be down-weighted; its score layer starts at zero, so an untrained module is exactly mean pooling.
(training/pooling_fit.py trains it.)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import BadInput
from .base import l2_normalise


def mean_pool(frames: np.ndarray) -> np.ndarray:
    """The unit vector of the mean of (n, d) frame vectors."""
    frames = _check_shot(frames)
    return l2_normalise(frames.mean(0, keepdims=True))[0]


class AttentionPooling(nn.Module):
    """Softmax attention over the frames of each shot, with per-frame scores from a dim -> hidden -> 1 MLP."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.score[-1].weight)  # equal scores: mean pooling until trained
        nn.init.zeros_(self.score[-1].bias)

    def forward(self, frames: Tensor, mask: Tensor) -> Tensor:
        """(batch, frames, dim) with a (batch, frames) bool mask, True = real frame -> (batch, dim) unit vectors."""
        if frames.dim() != 3 or frames.shape[-1] != self.dim or mask.shape != frames.shape[:2]:
            raise BadInput(f"expected frames (batch, frames, {self.dim}) and a (batch, frames) mask, "
                           f"got {tuple(frames.shape)} and {tuple(mask.shape)}")
        if not mask.any(1).all():
            raise BadInput("every shot needs at least one real frame (a mask row is all False)")
        frames = frames.masked_fill(~mask[..., None], 0.0)  # padding may hold anything, even NaN
        scores = self.score(frames).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=1)
        return F.normalize((weights[..., None] * frames).sum(1), dim=-1)

    def pool(self, frames: np.ndarray) -> np.ndarray:
        """One shot's (n, dim) frames -> its (dim,) unit vector, in inference mode."""
        shot = torch.from_numpy(_check_shot(frames, self.dim))[None]
        was_training = self.training
        self.eval()
        with torch.inference_mode():
            out = self(shot, torch.ones(shot.shape[:2], dtype=torch.bool))[0].numpy()
        self.train(was_training)
        return out

    def save(self, path: str | Path) -> None:
        torch.save({"dim": self.dim, "hidden": self.hidden, "state_dict": self.state_dict()}, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> AttentionPooling:
        saved = torch.load(Path(path), map_location="cpu", weights_only=True)
        module = cls(int(saved["dim"]), int(saved["hidden"]))
        module.load_state_dict(saved["state_dict"])
        return module.eval()

    def extra_repr(self) -> str:
        return f"dim={self.dim}, hidden={self.hidden}"


def pad_shots(shots: list[np.ndarray], dim: int | None = None) -> tuple[Tensor, Tensor]:
    """Shots of (n_i, d) frames -> zero-padded (len(shots), max n_i, d) frames and their (len, max n_i) mask."""
    if not shots:
        raise BadInput("no shots to pad")
    shots = [_check_shot(s, dim if dim is not None else np.asarray(shots[0]).shape[-1]) for s in shots]
    longest = max(len(s) for s in shots)
    frames = torch.zeros(len(shots), longest, shots[0].shape[1])
    mask = torch.zeros(len(shots), longest, dtype=torch.bool)
    for i, shot in enumerate(shots):
        frames[i, :len(shot)] = torch.from_numpy(shot)
        mask[i, :len(shot)] = True
    return frames, mask


def _check_shot(frames: np.ndarray, dim: int | None = None) -> np.ndarray:
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    if frames.ndim != 2 or (dim is not None and frames.shape[1] != dim):
        raise BadInput(f"a shot must be an (n, {dim or 'd'}) array of frame vectors, got shape {frames.shape}")
    if len(frames) == 0:
        raise BadInput("cannot pool an empty shot: it has no frames")
    return frames
