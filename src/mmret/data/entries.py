"""What every source shares: an entry (where it came from, the item it became), the report of one that could
not become an item, the error for a source unusable as a whole, and the file types an item can be made from."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mmret.data.items import Item

from ..errors import BadInput

MEDIA_EXTENSIONS: dict[str, str] = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"), "image"),
    **dict.fromkeys((".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac"), "audio"),
    **dict.fromkeys((".mp4", ".webm", ".mkv", ".mov"), "video"),
}


@dataclass(frozen=True)
class Skipped:
    """A source entry that could not become an Item."""

    where: str  # file path, or "manifest.csv:17" for a manifest row
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its particulars (sizes, paths, messages after a colon): what skips are counted by."""
        return re.split(r"[:;(]", self.reason, maxsplit=1)[0].strip()

    def __str__(self) -> str:
        """One line: control characters (a newline in a file name) and undecodable bytes are escaped."""
        return "".join(char if char.isprintable() else repr(char)[1:-1] for char in f"{self.where}: {self.reason}")


class SourceError(BadInput):
    """A source unusable as a whole: missing path, manifest without a path/text column, unreadable manifest."""


OnSkip = Callable[[Skipped], None]
# (where the entry came from, the item it became)
Entry = tuple[str, Item]


def not_utf8(texts: Iterable[str]) -> str | None:
    """The reason a text read with surrogateescape is unusable, or None when all of it was UTF-8."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            return f"not UTF-8 text: byte 0x{ord(err.object[err.start]) - 0xDC00:02x}"
    return None


def unsupported_type(path: Path) -> str:
    return f"unsupported file type {path.suffix!r}" if path.suffix else "unsupported file type (no extension)"
