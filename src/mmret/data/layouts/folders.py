"""`folders`: `root/<class>/<image file>` (Caltech-101). Tasks: image->image (same class; the runner leaves the
query out of its own results) and text->image, where each class is queried by the text
`template.format(class name with underscores as spaces)`, by default "a photo of a {}". `start`/`stop` slice
each class's files in name order. Hidden entries, files directly in `root`, files without an image suffix and
classes left with no image are ignored."""
from __future__ import annotations

from pathlib import Path

from ...errors import BadInput
from ..items import Item
from .base import RetrievalDataset, slice_text, sliced_name
from .files import image_files
from .labels import DEFAULT_TEMPLATES, labelled_dataset

CLASS_TEMPLATE = DEFAULT_TEMPLATES["image"]


def folders(root: str | Path, start: int = 0, stop: int | None = None, template: str = CLASS_TEMPLATE,
            name: str | None = None) -> RetrievalDataset:
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder of class folders")
    images = []
    for class_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for file in image_files(class_dir)[start:stop]:
            images.append(Item(f"{class_dir.name}/{file.name}", "image", path=str(file),
                               metadata={"label": class_dir.name}))
    if not images:
        raise BadInput(f"{root}: no images in <class>/<file> folders "
                       f"(slice {slice_text(start, stop)} of each class)")
    return labelled_dataset(name or sliced_name(root.name, start, stop), images,
                            [{image.metadata["label"]} for image in images], template)
