"""Train the audio tower on a labelled audio data set, save it with a manifest, and load it back by folder.

    manifest = train_audio_tower("esc50:data/esc50", "towers/esc50", options={"folds": "4"})
    encoder = load_audio_tower_encoder("towers/esc50")  # encoders/audio_tower.py: text model + the tower

Any spec `dataset_from_spec` reads works when it yields audio items with one class each and class queries
(ESC-50, FSDD digits, a labels CSV/JSONL of audio files); clips without a label are left out. Clips are decoded
at the tower's rate and brought to one length, the median clip length (at least the tower's shortest input):
longer clips keep their first samples, shorter ones are zero-padded at the end; a clip that does not decode
is skipped and listed in the manifest. Class names (underscores as spaces) are embedded by the text model
through `template`. A stratified `holdout` fraction of each class's clips (drawn with settings.seed) is kept
out of training and scores the trained tower and the untrained one (the same initialisation): audio->audio
(held-out clips against all clips, self excluded) and text->audio (class names against held-out clips).
The folder holds the tower (`AudioTower.save`) and `mmret_audio_tower.json`; the loaded encoder's model id
starts with `audio-tower:<absolute folder>`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.audio import read_audio
from ..data.decode import DecodeError
from ..data.items import Item
from ..data.layouts import dataset_from_spec
from ..data.layouts.base import TEXT_TO_AUDIO
from ..data.layouts.labels import DEFAULT_TEMPLATES
from ..encoders.audio_tower import (
    FORMAT,
    MANIFEST,
    AudioTower,
    TowerConfig,
    is_audio_tower_dir,
)
from ..encoders.base import SHARED, Encoder
from ..encoders.loader import load_encoder
from ..errors import BadInput
from ..eval.metrics import Ranking, mean_metrics
from .audio_tower_fit import TrainSettings, train_tower

DEFAULT_TEMPLATE = DEFAULT_TEMPLATES["audio"]
METRICS = ("mAP", "R@1")
DEFAULT_SETTINGS = TrainSettings()


def train_audio_tower(data_spec: str, out: str | Path, text_model: str | Encoder = "offline",
                      settings: TrainSettings = DEFAULT_SETTINGS, template: str | None = None, holdout: float = 0.2,
                      progress: bool = True, options: Mapping[str, str] | None = None,
                      config: TowerConfig | None = None) -> dict:
    """Train a tower (config None: the default tower in the text model's dimension), validate, save; the manifest.
    `text_model` is a name for `load_encoder` or an encoder; `options` are layout options as on the command line."""
    out, template = Path(out), template or DEFAULT_TEMPLATE
    _check_out(out)
    if not 0 <= holdout < 1:
        raise BadInput(f"holdout must be in [0, 1), got {holdout}")
    items, labels, classes = labelled_clips(data_spec, options)
    _check_classes(data_spec, labels, classes, holdout)
    text_encoder = load_encoder(text_model) if isinstance(text_model, str) else text_model
    config = config or TowerConfig(dim=text_encoder.spaces[SHARED])
    clips, labels, skipped = decode_clips(items, labels, config, progress)
    _check_classes(data_spec, labels, classes, holdout)  # again: undecodable clips were left out
    held = holdout_split(labels, holdout, settings.seed)
    names = [template.format(name.replace("_", " ")) for name in classes]
    text = text_encoder.encode("text", names).astype(np.float32)
    _say(progress, f"training on {int((~held).sum())} clips, {len(classes)} classes, {settings.epochs} epochs")
    started = time.perf_counter()
    tower = train_tower(clips[~held], torch.from_numpy(labels[~held]), torch.from_numpy(text), settings, config,
                        progress)
    seconds = time.perf_counter() - started
    validation = ({"holdout": holdout, **validate(tower, settings.seed, clips, labels, held, text)}
                  if held.any() else None)
    tower.save(out)
    manifest = {"format": FORMAT, "text_model": text_encoder.model_id, "classes": classes, "template": template,
                "settings": asdict(settings), "data": data_spec, "data_options": dict(options or {}),
                "clips": len(labels), "clip_samples": clips.shape[1], "rate": config.rate, "skipped": skipped,
                "validation": validation, "train_seconds": round(seconds, 1),
                "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    _write_json(out / MANIFEST, manifest)
    return manifest


def labelled_clips(spec: str, options: Mapping[str, str] | None) -> tuple[list[Item], np.ndarray, list[str]]:
    """The data set's labelled audio clips, each one's class index, and the class names (from its class queries)."""
    dataset = dataset_from_spec(spec, options=options)
    if TEXT_TO_AUDIO not in dataset.tasks:
        has_audio = any(dataset.modality(pool) == "audio" and items for pool, items in dataset.pools.items())
        raise BadInput(f"{spec}: " + ("its audio items have no class labels (no text->audio class queries)"
                                      if has_audio else "no audio items"))
    task = dataset.task(TEXT_TO_AUDIO)
    classes = [query.metadata.get("label", query.text) for query in dataset.pools[task.queries]]
    membership, clips = task.relevance.T, dataset.pools[task.candidates]
    several = np.flatnonzero(membership.sum(axis=1) > 1)
    if len(several):
        raise BadInput(f"{spec}: {len(several)} clip(s) carry several labels (first {clips[several[0]].id}); "
                       "the tower trains on one class per clip")
    labelled = np.flatnonzero(membership.any(axis=1))
    return [clips[i] for i in labelled], membership[labelled].argmax(axis=1), classes


def decode_clips(items: list[Item], labels: np.ndarray, config: TowerConfig,
                 progress: bool) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """(clips, samples) at the tower's rate cropped or padded to the median length, their labels, and skips."""
    waves, kept, skipped = [], [], []
    for i, item in enumerate(tqdm(items, desc="decoding", unit="clip", disable=not progress)):
        try:
            waves.append(read_audio(item.path, config.rate).samples)
            kept.append(i)
        except DecodeError as e:
            skipped.append(str(e))
    if skipped:
        _say(progress, f"skipped {len(skipped)} clip(s) that do not decode, first: {skipped[0]}")
    length = max(config.min_samples, int(np.median([len(w) for w in waves]))) if waves else config.min_samples
    fitted = [np.pad(w[:length], (0, length - len(w[:length]))) for w in waves]
    clips = torch.from_numpy(np.stack(fitted)) if fitted else torch.zeros((0, length))
    return clips, labels[kept], skipped


def _check_classes(spec: str, labels: np.ndarray, classes: list[str], holdout: float) -> None:
    counts = np.bincount(labels, minlength=len(classes))
    if (counts > 0).sum() < 2:
        raise BadInput(f"{spec}: {(counts > 0).sum()} class(es) with audio clips; training needs at least 2")
    if holdout > 0 and (counts == 1).any():
        raise BadInput(f"{spec}: class {classes[int(np.flatnonzero(counts == 1)[0])]!r} has 1 clip; a holdout "
                       "needs at least 2 per class (or holdout=0)")


def holdout_split(labels: np.ndarray, holdout: float, seed: int) -> np.ndarray:
    """Bool mask of held-out clips: round(holdout * n) of each class's n clips, at least 1 and at most n - 1."""
    held = np.zeros(len(labels), dtype=bool)
    rng = np.random.default_rng(seed)
    for c in np.unique(labels) if holdout > 0 else []:
        members = np.flatnonzero(labels == c)
        count = min(len(members) - 1, max(1, round(holdout * len(members))))
        held[rng.choice(members, count, replace=False)] = True
    return held


def validate(tower: AudioTower, seed: int, clips: torch.Tensor, labels: np.ndarray, held: np.ndarray,
             text: np.ndarray) -> dict:
    """Held-out figures of the trained tower and of the untrained one (train_tower's initialisation at `seed`)."""
    torch.manual_seed(seed)
    untrained = AudioTower(tower.config)
    return {"clips": int(held.sum()), "trained": scores(tower, clips, labels, held, text),
            "untrained": scores(untrained, clips, labels, held, text)}


def scores(tower: AudioTower, clips: torch.Tensor, labels: np.ndarray, held: np.ndarray,
           text: np.ndarray) -> dict[str, dict[str, float]]:
    """Held-out audio->audio (against all clips, self excluded) and text->audio (against held-out clips)."""
    with torch.inference_mode():
        vectors = torch.cat([tower.eval()(chunk) for chunk in clips.split(50)]).numpy()
    queries = np.flatnonzero(held)
    same = labels[queries][:, None] == labels[None, :]
    audio = Ranking.from_scores(vectors[queries] @ vectors.T, same, queries[:, None] == np.arange(len(labels)))
    named = Ranking.from_scores(text @ vectors[queries].T, np.arange(len(text))[:, None] == labels[queries])
    return {"audio->audio": mean_metrics(audio, METRICS), "text->audio": mean_metrics(named, METRICS)}


def _check_out(out: Path) -> None:
    if out.exists() and not (is_audio_tower_dir(out) or (out.is_dir() and not any(out.iterdir()))):
        raise BadInput(f"{out}: exists and is not an audio tower folder; refusing to write over it")


def _write_json(file: Path, data: dict) -> None:
    partial = file.with_name(file.name + ".partial")
    partial.write_text(json.dumps(data, indent=2), encoding="utf-8")
    partial.replace(file)


def _say(progress: bool, message: str) -> None:
    if progress:
        tqdm.write(message)
