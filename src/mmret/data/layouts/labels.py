"""Relevance from labels, shared by every labelled layout (folders, tables, ESC-50, FSDD, COCO categories).

Items are relevant to each other when they share at least one label; an item without a label is relevant to
nothing (as a query it is unanswerable). With a template, each class also becomes one text query,
`template.format(class name with underscores as spaces)`, relevant to the items carrying that label.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from ..items import Item
from .base import RetrievalDataset, task_between

DEFAULT_TEMPLATES = {"image": "a photo of a {}", "audio": "the sound of {}", "video": "a video of {}"}


def label_matrix(labels: Sequence[Collection[str]]) -> tuple[list[str], np.ndarray]:
    """The sorted class names and the (n_items, n_classes) bool membership matrix."""
    classes = sorted(set().union(*labels)) if labels else []
    column = {name: j for j, name in enumerate(classes)}
    membership = np.zeros((len(labels), len(classes)), dtype=bool)
    for i, item_labels in enumerate(labels):
        membership[i, [column[name] for name in item_labels]] = True
    return classes, membership


def shared_label(membership: np.ndarray) -> np.ndarray:
    """(n, n) bool: the two items share a label (an item with labels is relevant to itself)."""
    counts = membership.astype(np.float32)
    return (counts @ counts.T) > 0


def class_queries(classes: Sequence[str], template: str) -> list[Item]:
    return [Item(f"class:{name}", "text", text=template.format(name.replace("_", " ")), metadata={"label": name})
            for name in classes]


def labelled_dataset(name: str, items: list[Item], labels: Sequence[Collection[str]],
                     template: str | None) -> RetrievalDataset:
    """Tasks M->M (shared label) and, with a template and non-text items, text->M (one query per class)."""
    modality = items[0].modality
    classes, membership = label_matrix(labels)
    pools = {modality: items}
    relevance = {modality: shared_label(membership)}
    if template is not None and modality != "text":
        pools["text"] = class_queries(classes, template)
        relevance["text"] = membership.T.copy()
    tasks = tuple(task_between(pool, modality, matrix, pools) for pool, matrix in relevance.items())
    return RetrievalDataset(name, pools, tasks)
