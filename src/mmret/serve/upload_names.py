"""The name an uploaded file is stored under: the client's own file name, made safe (no folders, no control
characters, not hidden, not too long), with a number added only when that name is taken."""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from ..data.sources import MEDIA_EXTENSIONS

MAX_NAME_BYTES = 200  # below the 255 bytes file systems allow, leaving room for "-NNN" and an extension
_CLASH_TRIES = 10_000


def safe_name(client_name: str | None, modality: str, extension: str) -> str:
    """`client_name` reduced to a plain file name ending in an extension of `modality` (the sniffed `extension`
    when the client's says another kind); "upload" + extension when nothing usable is left."""
    base = re.split(r"[/\\]", client_name or "")[-1]
    base = "".join(char for char in base if not unicodedata.category(char).startswith("C")).strip().lstrip(".")
    stem, suffix = _split(base)
    if MEDIA_EXTENSIONS.get(suffix.lower()) != modality:
        stem, suffix = base, extension
    stem = _truncated(stem.strip() or "upload", MAX_NAME_BYTES)
    return stem + suffix


def create_unique(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """A new file in `folder` named `name`, or `stem-2.ext`, `stem-3.ext`... when taken (created exclusively, so
    two uploads of one name at once never share a file)."""
    stem, suffix = _split(name)
    for number in range(1, _CLASH_TRIES):
        path = folder / (name if number == 1 else f"{stem}-{number}{suffix}")
        try:
            return path, path.open("xb")
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: {_CLASH_TRIES} files named like {name!r} already")


def _split(name: str) -> tuple[str, str]:
    suffix = Path(name).suffix if name else ""
    return name[: len(name) - len(suffix)], suffix


def _truncated(text: str, limit: int) -> str:
    return text.encode("utf-8", "ignore")[:limit].decode("utf-8", "ignore")
