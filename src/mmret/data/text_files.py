"""Plain text files found among media files (notes, READMEs) are text items of their content."""
from __future__ import annotations

import codecs
from pathlib import Path

TEXT_EXTENSIONS = frozenset({".txt", ".md"})
TEXT_FILE_LIMIT = 64 * 1024  # bytes of a file that are indexed: a longer file is indexed by its beginning


class UnreadableText(Exception):
    """A text file that cannot become an item; its message is the reason."""


def text_file_content(path: Path) -> str:
    """The first TEXT_FILE_LIMIT bytes of a UTF-8 file as text (a character cut at the limit is left out)."""
    try:
        with path.open("rb") as file:
            head = file.read(TEXT_FILE_LIMIT)
    except OSError as err:
        raise UnreadableText(f"cannot read file: {err.strerror}") from err
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=len(head) < TEXT_FILE_LIMIT)
    except UnicodeDecodeError as err:
        raise UnreadableText(f"not UTF-8 text: byte 0x{head[err.start]:02x} at offset {err.start}; save it as UTF-8"
                             ) from err
    if not text.strip():
        raise UnreadableText("empty text file")
    return text
