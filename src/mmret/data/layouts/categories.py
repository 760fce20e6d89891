"""`coco`: a captions JSON whose records also list object categories (COCO style, `"categories": [names]`).
Tasks: those of `captions`, plus image->image where two images are relevant when they share a category; an
image without categories (no field, null or an empty list) is relevant to no other image (as a query it is
unanswerable)."""
from __future__ import annotations

from pathlib import Path

from ...errors import BadInput
from .base import IMAGE_TO_IMAGE, RetrievalDataset, Task
from .captions import captions, captions_file, read_records
from .labels import label_matrix, shared_label

CATEGORY_FIELD = "categories"


def coco(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None,
         field: str = CATEGORY_FIELD) -> RetrievalDataset:
    dataset = captions(path, start, stop, name)
    labels = [_categories(image.metadata.get(field), image.id, path) for image in dataset.images]
    _, membership = label_matrix(labels)
    image_image = Task(IMAGE_TO_IMAGE, "image", "image", shared_label(membership))
    return RetrievalDataset(dataset.name, dataset.pools, (*dataset.task_list, image_image))


def has_categories(path: str | Path, field: str = CATEGORY_FIELD) -> bool:
    """True when some record of the captions JSON has a categories field."""
    return any(field in record for record in read_records(captions_file(path)))


def _categories(value: object, image: str, path: str | Path) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{captions_file(path)}: image {image}: \"{CATEGORY_FIELD}\" must be a list of strings")
    return frozenset(value)
