"""The settings that decide how an audio or video file is cut into segments, stored with each file."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from ..data.items import Item
from .segments import SETTINGS


@dataclass
class TimedSettings:
    window: float = 10.0  # seconds per sound window
    video: dict[str, Any] = field(default_factory=dict)  # mmret.data.video.VideoSettings fields to override
    pooling: Any = None  # an AttentionPooling for shot vectors in the shared space; None = mean
    batch_size: int = 32  # keyframes per image-tower forward pass
    ocr: bool = False  # read text in keyframes (needs `pip install 'mmret[ocr]'`)
    faces: Any = None  # a FaceDetector: find faces in keyframes (needs `pip install 'mmret[faces]'`)

    def describe(self) -> str:
        """What decides a file's segments; stored with each file, so changed settings re-index it."""
        pooling = None
        if self.pooling is not None:
            weights = b"".join(p.detach().numpy().tobytes() for p in self.pooling.parameters())
            pooling = hashlib.sha256(weights).hexdigest()[:16]
        described = {"window": self.window, "video": self.video, "ocr": self.ocr, "pooling": pooling}
        if self.faces is not None:  # only then: files indexed before faces existed keep their description
            described["faces"] = self.faces.describe()
        return json.dumps(described, sort_keys=True)


def with_settings(item: Item, settings: TimedSettings) -> Item:
    """A timed item carrying the settings it is indexed with in its metadata."""
    return replace(item, metadata={**item.metadata, SETTINGS: settings.describe()})
