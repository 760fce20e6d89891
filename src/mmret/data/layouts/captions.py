"""`captions`: a `captions.json` list of `{"image": path relative to the JSON's folder, "captions": [strings],
...}` (Flickr8k, COCO). Tasks: text->image (a caption's one image) and image->text (an image's captions).
Extra record fields (COCO's `categories`, `coco_id`, ...) become the image's metadata. `start`/`stop` slice
the records in file order (e.g. images 0-399 to train, 400-499 to test)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import BadInput
from ..items import Item
from .base import (
    IMAGE_TO_TEXT,
    TEXT_TO_IMAGE,
    RetrievalDataset,
    Task,
    slice_text,
    sliced_name,
)
from .files import check_files_exist, read_json


def captions(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None) -> RetrievalDataset:
    """Images and their captions from a captions JSON file, or a folder holding `captions.json`."""
    file = captions_file(path)
    records = read_records(file)[start:stop]
    if not records:
        raise BadInput(f"{file}: no records in the slice {slice_text(start, stop)}")
    images = [Item(r["image"], "image", path=str(file.parent / r["image"]),
                   metadata={k: v for k, v in r.items() if k not in ("image", "captions")}) for r in records]
    check_files_exist(file, images)
    texts, image_of_text = [], []
    for index, record in enumerate(records):
        for number, caption in enumerate(record["captions"]):
            texts.append(Item(f"{record['image']}#{number}", "text", text=caption, metadata={"image": record["image"]}))
            image_of_text.append(index)
    text_image = np.arange(len(images))[None, :] == np.array(image_of_text)[:, None]
    tasks = (Task(TEXT_TO_IMAGE, "text", "image", text_image), Task(IMAGE_TO_TEXT, "image", "text", text_image.T))
    return RetrievalDataset(name or sliced_name(file.parent.name, start, stop), {"image": images, "text": texts},
                            tasks)


def captions_file(path: str | Path) -> Path:
    file = Path(path)
    return file / "captions.json" if file.is_dir() else file


def read_records(file: Path) -> list[dict]:
    """The checked records of a captions JSON file."""
    data = read_json(file)
    if not isinstance(data, list):
        raise BadInput(f"{file}: expected a JSON list of records, got {type(data).__name__}")
    first_record_of: dict[str, int] = {}
    for index, record in enumerate(data):
        where = f"{file}: record {index}"
        if not isinstance(record, dict):
            raise BadInput(f"{where}: expected an object, got {type(record).__name__}")
        image, texts = record.get("image"), record.get("captions")
        if not isinstance(image, str) or not image:
            raise BadInput(f"{where}: missing or invalid \"image\" (a relative path)")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise BadInput(f"{where}: \"captions\" must be a non-empty list of non-empty strings")
        if image in first_record_of:
            raise BadInput(f"{where}: image {image} is already listed in record {first_record_of[image]}")
        first_record_of[image] = index
    return data
