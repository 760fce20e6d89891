"""Train the attention pooling of shot keyframes from captioned video moments (`mmret train-pooling`).

A segments table (CSV, TSV or JSONL) has one row per caption of a moment: `path` (the video, relative to the
table), `start` and `end` (seconds) and `text`. A moment's keyframes are those of the video's shots, as indexing
cuts them, whose times fall in [start, end); their image vectors (shared space) are pooled so that the moment lands
near its captions' text vectors. Captions of one moment are positives of each other. Whole videos are held out
for validation: text -> moment R@1 of the trained pooling against mean pooling on the same held-out moments.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..data.layouts.files import read_table
from ..encoders.base import SHARED, Encoder
from ..encoders.loader import load_encoder
from ..encoders.pooling import AttentionPooling, mean_pool
from ..errors import BadInput
from .pooling_fit import train_attention_pooling


@dataclass(frozen=True)
class Moment:
    path: str
    start: float
    end: float


def read_segments(table: str | Path) -> tuple[list[Moment], list[str]]:
    """(moment, caption) per row; a row without a path, start, end or text is an error naming its line."""
    table = Path(table)
    moments, texts = [], []
    for line, row in enumerate(read_table(table), 2):
        try:
            start, end = float(row["start"]), float(row["end"])
            path, text = str(row["path"]), str(row["text"]).strip()
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(f"{table}:{line}: needs path, start, end (seconds) and text: {e}") from None
        if not text or end <= start:
            raise BadInput(f"{table}:{line}: empty text or end <= start")
        video = (table.parent / path).resolve()
        if not video.is_file():
            raise BadInput(f"{table}:{line}: no such video {video}")
        moments.append(Moment(str(video), start, end))
        texts.append(text)
    if not moments:
        raise BadInput(f"{table}: no rows")
    return moments, texts


def moment_frames(encoder: Encoder, moments: Sequence[Moment], video: dict | None = None) -> dict[Moment, np.ndarray]:
    """The shared-space vectors of each moment's keyframes."""
    from ..data.video import VideoSettings, iter_shots

    frames: dict[Moment, np.ndarray] = {}
    for path in sorted({m.path for m in moments}):
        keyframes = [(t, f) for shot in iter_shots(path, VideoSettings(**(video or {})))
                     for t, f in zip(shot.times, shot.frames)]
        vectors = encoder.encode("image", [f for _, f in keyframes], SHARED)
        for moment in {m for m in moments if m.path == path}:
            inside = [i for i, (t, _) in enumerate(keyframes) if moment.start <= t < moment.end]
            if not inside:
                raise BadInput(f"{path}: no keyframe in {moment.start}-{moment.end} s")
            frames[moment] = vectors[inside]
    return frames


def train_pooling(table: str | Path, out: str | Path, model: str | Encoder = "offline", epochs: int = 50,
                  holdout: float = 0.2, seed: int = 0, video: dict | None = None) -> dict:
    """Train, validate on held-out videos, save the pooling to `out` (a .pt file) and its figures beside it."""
    out = Path(out)
    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    moments, texts = read_segments(table)
    frames = moment_frames(encoder, moments, video)
    targets = encoder.encode("text", texts, SHARED)
    number = {m: i for i, m in enumerate(dict.fromkeys(moments))}
    labels = np.array([number[m] for m in moments])
    held = _held_out(moments, holdout, seed)
    train = ~held
    pooling = train_attention_pooling([frames[m] for m, t in zip(moments, train) if t], targets[train],
                                      labels[train], epochs=epochs, seed=seed)
    report = {"model": encoder.model_id, "table": str(table), "rows": len(moments), "epochs": epochs,
              "validation": _validate(pooling, frames, moments, targets, held) if held.any() else None,
              "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.parent.mkdir(parents=True, exist_ok=True)
    pooling.save(out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _held_out(moments: Sequence[Moment], fraction: float, seed: int) -> np.ndarray:
    videos = sorted({m.path for m in moments})
    if not 0 <= fraction < 1 or (fraction and len(videos) < 2):
        raise BadInput(f"holdout {fraction} needs 0 <= holdout < 1 and, when > 0, at least 2 videos")
    chosen = np.random.default_rng(seed).permutation(len(videos))[:round(fraction * len(videos))]
    return np.array([m.path in {videos[i] for i in chosen} for m in moments])


def _validate(pooling: AttentionPooling, frames: dict, moments: Sequence[Moment], targets: np.ndarray,
              held: np.ndarray) -> dict:
    """Text -> moment R@1 over the held-out moments, each caption a query, for attention and mean pooling."""
    unique = list(dict.fromkeys(m for m, h in zip(moments, held) if h))
    truth = np.array([unique.index(m) for m, h in zip(moments, held) if h])
    queries = targets[held]
    figures = {}
    for name, pool in (("attention", pooling.pool), ("mean", mean_pool)):
        pooled = np.stack([pool(frames[m]) for m in unique])
        figures[f"{name} R@1"] = float(np.mean(np.argmax(queries @ pooled.T, axis=1) == truth))
    return {"moments": len(unique), "queries": len(truth), **figures}
