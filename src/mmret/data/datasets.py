"""Benchmark layouts read into a RetrievalDataset: the items to embed, and which are relevant to which query.

- `captions(path)`: a `captions.json` list of `{"image": path relative to the JSON's folder, "captions":
  [strings], ...}` (Flickr8k, COCO). Tasks: text->image (a caption's one image) and image->text (an
  image's captions). Extra record fields (COCO's `categories`, `coco_id`, ...) become the image's metadata.
- `folders(root)`: `root/<class>/<image file>` (Caltech-101). Tasks: image->image (same class; the runner
  excludes the query itself) and text->image, where each class is queried by the text
  `template.format(class name with underscores as spaces)`, by default "a photo of a {}".

Both take `start`/`stop` to evaluate a slice (e.g. images 0-399 for training, 400-499 for testing): of the
records in file order for captions, of each class's files in name order for folders.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .items import Item

TEXT_TO_IMAGE = "text->image"
IMAGE_TO_TEXT = "image->text"
IMAGE_TO_IMAGE = "image->image"
CLASS_TEMPLATE = "a photo of a {}"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class RetrievalDataset:
    name: str
    images: list[Item]
    texts: list[Item]
    #: (n_texts, n_images) bool: text i describes image j (one of its captions, or its class)
    text_image: np.ndarray
    #: (n_images, n_images) bool: images relevant to each other, self-pairs included; None if undefined
    image_image: np.ndarray | None
    tasks: tuple[str, ...]

    def relevance(self, task: str) -> np.ndarray:
        """(n_queries, n_candidates) bool relevance of a task such as "text->image"."""
        if task not in self.tasks:
            raise ValueError(f"dataset {self.name} has no task {task!r}; it has {self.tasks}")
        return {TEXT_TO_IMAGE: self.text_image, IMAGE_TO_TEXT: self.text_image.T,
                IMAGE_TO_IMAGE: self.image_image}[task]


def load_dataset(path: str | Path, start: int = 0, stop: int | None = None) -> RetrievalDataset:
    """A captions JSON (or a folder holding `captions.json`), a folder of class folders, or a folder whose
    `images/` holds the class folders (as the shared caltech101 does)."""
    path = Path(path)
    if path.is_file() or (path / "captions.json").is_file():
        return captions(path, start, stop)
    images = path / "images"
    if images.is_dir() and any(child.is_dir() for child in images.iterdir()):
        return folders(images, start, stop, name=path.name)
    return folders(path, start, stop)


def captions(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None) -> RetrievalDataset:
    """Images and their captions from a captions JSON file, or a folder holding `captions.json`."""
    file = Path(path)
    if file.is_dir():
        file = file / "captions.json"
    records = _checked_records(file, _read_json(file))[start:stop]
    if not records:
        raise ValueError(f"{file}: no records in the slice {_slice_text(start, stop)}")
    images = [Item(r["image"], "image", path=str(file.parent / r["image"]),
                   metadata={k: v for k, v in r.items() if k not in ("image", "captions")}) for r in records]
    _check_files_exist(file, images)
    texts, image_of_text = [], []
    for index, record in enumerate(records):
        for number, caption in enumerate(record["captions"]):
            texts.append(Item(f"{record['image']}#{number}", "text", text=caption, metadata={"image": record["image"]}))
            image_of_text.append(index)
    text_image = np.arange(len(images))[None, :] == np.array(image_of_text)[:, None]
    return RetrievalDataset(name or _sliced_name(file.parent.name, start, stop), images, texts, text_image,
                            None, (TEXT_TO_IMAGE, IMAGE_TO_TEXT))


def folders(root: str | Path, start: int = 0, stop: int | None = None, template: str = CLASS_TEMPLATE,
            name: str | None = None) -> RetrievalDataset:
    """Images labelled by their folder, and one text query per class. Hidden entries, files directly in
    `root`, files without an image suffix and classes left with no image are ignored."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder of class folders")
    images, labels = [], []
    for class_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for file in _image_files(class_dir)[start:stop]:
            images.append(Item(f"{class_dir.name}/{file.name}", "image", path=str(file),
                               metadata={"label": class_dir.name}))
            labels.append(class_dir.name)
    if not images:
        raise ValueError(f"{root}: no images in <class>/<file> folders "
                         f"(slice {_slice_text(start, stop)} of each class)")
    classes = sorted(set(labels))
    texts = [Item(f"class:{c}", "text", text=template.format(c.replace("_", " ")), metadata={"label": c})
             for c in classes]
    labels = np.array(labels)
    return RetrievalDataset(name or _sliced_name(root.name, start, stop), images, texts,
                            np.array(classes)[:, None] == labels[None, :], labels[:, None] == labels[None, :],
                            (IMAGE_TO_IMAGE, TEXT_TO_IMAGE))


def _read_json(file: Path) -> object:
    if not file.is_file():
        raise ValueError(f"{file}: no such captions file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file}: not valid JSON: {e}") from e


def _checked_records(file: Path, data: object) -> list[dict]:
    if not isinstance(data, list):
        raise ValueError(f"{file}: expected a JSON list of records, got {type(data).__name__}")
    first_record_of: dict[str, int] = {}
    for index, record in enumerate(data):
        where = f"{file}: record {index}"
        if not isinstance(record, dict):
            raise ValueError(f"{where}: expected an object, got {type(record).__name__}")
        image, texts = record.get("image"), record.get("captions")
        if not isinstance(image, str) or not image:
            raise ValueError(f"{where}: missing or invalid \"image\" (a relative path)")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            raise ValueError(f"{where}: \"captions\" must be a non-empty list of non-empty strings")
        if image in first_record_of:
            raise ValueError(f"{where}: image {image} is already listed in record {first_record_of[image]}")
        first_record_of[image] = index
    return data


def _check_files_exist(file: Path, images: list[Item]) -> None:
    missing = [item.path for item in images if not Path(item.path).is_file()]
    if missing:
        raise ValueError(f"{file}: {len(missing)} image file(s) listed but missing, first {missing[0]}")


def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES)


def _sliced_name(name: str, start: int, stop: int | None) -> str:
    return name if start == 0 and stop is None else name + _slice_text(start, stop)


def _slice_text(start: int, stop: int | None) -> str:
    return f"[{start}:{'' if stop is None else stop}]"
