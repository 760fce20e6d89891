"""Benchmark data sets: the RetrievalDataset every layout produces and the layouts themselves.

Built-in layouts (see each module in `mmret.data.layouts` for its format):
- `captions`: captions JSON (Flickr8k, COCO): text->image, image->text.
- `coco`: captions JSON with object categories: also image->image (images sharing a category).
- `folders`: `root/<class>/<image>` (Caltech-101): image->image (same class), text->image (class names).
- `labels`: a CSV/TSV/JSONL table of items with a label column: M->M, text->M.
- `esc50`: ESC-50 CSV and clips: audio->audio, text->audio.
- `fsdd`: Free Spoken Digit Dataset file names: audio->audio (digit or speaker), text->audio.
- `qrels`: a user's TREC qrels with queries and documents listings.
"""
from __future__ import annotations

from .layouts import (
    LAYOUTS,
    dataset_from_spec,
    detect_layout,
    load_dataset,
    register_layout,
)
from .layouts.base import (
    AUDIO_TO_AUDIO,
    IMAGE_TO_IMAGE,
    IMAGE_TO_TEXT,
    TEXT_TO_AUDIO,
    TEXT_TO_IMAGE,
    RetrievalDataset,
    Task,
)
from .layouts.captions import captions
from .layouts.categories import coco
from .layouts.esc50 import esc50
from .layouts.files import IMAGE_SUFFIXES
from .layouts.folders import CLASS_TEMPLATE, folders
from .layouts.fsdd import fsdd
from .layouts.qrels import qrels
from .layouts.table import labels

__all__ = ["AUDIO_TO_AUDIO", "CLASS_TEMPLATE", "IMAGE_SUFFIXES", "IMAGE_TO_IMAGE", "IMAGE_TO_TEXT", "LAYOUTS",
           "TEXT_TO_AUDIO", "TEXT_TO_IMAGE", "RetrievalDataset", "Task", "captions", "coco", "dataset_from_spec",
           "detect_layout", "esc50", "folders", "fsdd", "labels", "load_dataset", "qrels", "register_layout"]
