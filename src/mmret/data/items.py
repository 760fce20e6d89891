"""Item: one thing to index or query, independent of where it came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput

MODALITIES = ("text", "image", "audio", "video")


@dataclass(frozen=True)
class Item:
    """A unit of content. `id` is stable across runs (`file_id` of the source path for files).

    `path` points at the media file for image/audio/video items; `text` carries a caption or the
    content of a text item; `metadata` is free-form JSON-serialisable data that search can filter on.
    """

    id: str
    modality: str
    path: str | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise BadInput(f"item {self.id!r}: unknown modality {self.modality!r}, expected one of {MODALITIES}")
        if self.modality == "text" and self.text is None:
            raise BadInput(f"item {self.id!r}: a text item needs text")
        if self.modality != "text" and self.path is None:
            raise BadInput(f"item {self.id!r}: a {self.modality} item needs a path")


def file_id(path: str | Path) -> str:
    """The id of the file at `path`: its absolute path, `~` expanded and symlinks resolved, so a file indexed or
    named through a symlinked folder and by its real path is one item. Every lookup of a file by path uses it."""
    return str(Path(path).expanduser().resolve())
