"""Frozen tower features of images and captions, computed once and cached on disk.

One .npy per item and view under `root/<tower key>[-aug-<augmentation key>]/`, named by the item's content
digest (sha256 of the file bytes, or of the text) and the view: a renamed file or a repeated caption is not
recomputed, a changed one is. View 0 is the clean item; view v > 0 is an augmented copy whose random draws
are seeded by (v, digest), so it is the same every run.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..data.decode import DecodeError, open_image, read_bytes
from ..data.items import Item
from ..data.loader import batched
from ..media.batches import text_digest
from .augment import ImageAugment, WordDropout
from .towers import OfflineTowers

IMAGE_BATCH = 32
TEXT_BATCH = 256

log = logging.getLogger(__name__)


class FeatureCache:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, digest: str, view: int) -> Path:
        return self.folder / digest[:2] / f"{digest}-{view}.npy"

    def load(self, digest: str, view: int, dim: int) -> np.ndarray | None:
        path = self.path(digest, view)
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return array if array.shape == (dim,) and array.dtype == np.float32 else None

    def save(self, digest: str, view: int, array: np.ndarray) -> None:
        path = self.path(digest, view)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        with open(partial, "wb") as file:
            np.save(file, np.ascontiguousarray(array, dtype=np.float32))
        os.replace(partial, path)  # atomic: an interrupted run leaves no half-written entry


def view_rng(digest: str, view: int) -> np.random.Generator:
    return np.random.default_rng([view, int(digest[:16], 16)])


def augmentation_key(augment: Any) -> str:
    return hashlib.sha256(json.dumps(dataclasses.asdict(augment), sort_keys=True).encode()).hexdigest()[:12]


def image_features(towers: OfflineTowers, images: Sequence[Item], views: int, augment: ImageAugment, root: Path,
                   progress: bool = False) -> tuple[np.ndarray, list[int]]:
    """(n_images, views, d) features, and the rows of images that could not be decoded (left as zeros)."""
    caches = _caches(root, towers.key("image"), augment, views)
    features = np.zeros((len(images), views, towers.image_dim), dtype=np.float32)
    failed: dict[int, str] = {}
    todo = []
    for row, item in enumerate(images):
        try:
            data = read_bytes(item.path)
        except DecodeError as error:
            failed[row] = error.reason
            continue
        digest = hashlib.sha256(data).hexdigest()
        for view in range(views):
            cached = caches[view].load(digest, view, towers.image_dim)
            if cached is None:
                todo.append((row, view, digest, data))
            else:
                features[row, view] = cached
    prepare = towers.preparer()
    with tqdm(total=len(todo), desc="image features", unit="view", disable=not progress or not todo) as bar:
        for chunk in batched(todo, IMAGE_BATCH):
            ready = []
            for row, view, digest, data in chunk:
                rng = view_rng(digest, view) if view else None
                prepared = _try_prepare(images[row], data, prepare, augment, rng, failed, row)
                if prepared is not None:
                    ready.append((row, view, digest, prepared))
            if ready:
                computed = towers.image_features(np.stack([r[3] for r in ready]))
                for (row, view, digest, _), vector in zip(ready, computed):
                    features[row, view] = vector
                    caches[view].save(digest, view, vector)
            bar.update(len(chunk))
    _report(images, failed)
    return features, sorted(failed)


def text_features(towers: OfflineTowers, texts: Sequence[str], views: int, dropout: WordDropout, root: Path,
                  progress: bool = False) -> np.ndarray:
    """(n_texts, views, d) features of captions."""
    caches = _caches(root, towers.key("text"), dropout, views)
    features = np.zeros((len(texts), views, towers.text_dim), dtype=np.float32)
    todo = []
    for row, text in enumerate(texts):
        digest = text_digest(text)
        for view in range(views):
            cached = caches[view].load(digest, view, towers.text_dim)
            if cached is None:
                todo.append((row, view, digest, dropout(text, view_rng(digest, view)) if view else text))
            else:
                features[row, view] = cached
    with tqdm(total=len(todo), desc="text features", unit="view", disable=not progress or not todo) as bar:
        for chunk in batched(todo, TEXT_BATCH):
            for (row, view, digest, _), vector in zip(chunk, towers.text_features([c[3] for c in chunk])):
                features[row, view] = vector
                caches[view].save(digest, view, vector)
            bar.update(len(chunk))
    return features


def read_images(images: Sequence[Item], prepare: Callable, progress: bool = False) -> tuple[list[bytes], list[int]]:
    """The files' bytes, for a tower that runs every step, and the rows that cannot be decoded and prepared
    (checked once here; their bytes are left empty)."""
    failed: dict[int, str] = {}
    contents = []
    for row, item in enumerate(tqdm(images, desc="reading images", unit="image", disable=not progress)):
        try:
            data = read_bytes(item.path)
        except DecodeError as error:
            failed[row] = error.reason
            data = b""
        if data and _try_prepare(item, data, prepare, None, None, failed, row) is None:
            data = b""
        contents.append(data)
    _report(images, failed)
    return contents, sorted(failed)


def prepare_view(item: Item, data: bytes, prepare: Callable, augment: ImageAugment | None,
                 rng: np.random.Generator | None) -> np.ndarray:
    """The model input of a file's bytes: clean when rng is None (exactly as the encoder prepares it when
    indexing or evaluating), else augmented with rng's draws."""
    image = open_image(data, item.path)
    return prepare(image if rng is None else augment(image, rng))


def _try_prepare(item: Item, data: bytes, prepare: Callable, augment: ImageAugment | None,
                 rng: np.random.Generator | None, failed: dict[int, str], row: int) -> np.ndarray | None:
    if row in failed:
        return None
    try:
        return prepare_view(item, data, prepare, augment, rng)
    except DecodeError as error:
        failed[row] = error.reason
    except Exception as error:  # noqa: BLE001 - a decoder bug on one odd file must not end the run
        failed[row] = f"could not decode: {type(error).__name__}: {error}"
    return None


def _report(images: Sequence[Item], failed: dict[int, str]) -> None:
    for row, reason in failed.items():
        log.warning("%s: left out, %s", images[row].path, reason)


def _caches(root: Path, tower_key: str, augment: Callable, views: int) -> list[FeatureCache]:
    clean = FeatureCache(root / tower_key)
    augmented = FeatureCache(root / f"{tower_key}-aug-{augmentation_key(augment)}")
    return [clean] + [augmented] * (views - 1)
