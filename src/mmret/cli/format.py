"""Result rows as terminal lines."""
from __future__ import annotations

import json

from ..index.values import WORDS
from ..media.segments import SEGMENT_KEYS, place_of

TEXT_SHOWN = 80  # characters of an item's text on its line; --json has all of it


def format_row(row: dict) -> str:
    """One line for a terminal: rank, score, what matched, and the metadata that is not a segment's place."""
    shown = {k: v for k, v in row["metadata"].items() if k not in SEGMENT_KEYS}
    metadata = json.dumps(shown, ensure_ascii=False) if shown else ""
    line = f"{row['rank']:>3}  {row['score']:.4f}  {_what(row)}  {metadata}"
    found = row.get("channels") or {}
    if WORDS in found:  # a keyword or hybrid search: which channel, and the matched words in context
        ranks = ", ".join(f"{name} #{where['rank']}" for name, where in found.items())
        line += f"\n       [{ranks}]" + (f"  {marked(row['snippet'])}" if row.get("snippet") else "")
    return line


def marked(snippet: dict) -> str:
    """A snippet on one line with its matched words in [brackets]."""
    text, out, last = snippet["text"], [], 0
    for start, end in snippet["marks"]:
        out += [text[last:start], "[", text[start:end], "]"]
        last = end
    return " ".join("".join([*out, text[last:]]).split())


def _what(row: dict) -> str:
    """The file (with the segment's time range) or the text a result stands for."""
    if row["path"] is None:
        return row["text"] if row["text"] is not None else row["id"]
    place = place_of(row["metadata"])  # None also for malformed segment keys: shown as a plain file
    if place is None:
        return with_text(row["path"], row["text"])
    if place.kind == "face" and place.end == 0:
        return f"{row['path']} (face)"  # a face in a photo: its box is in the metadata
    return with_text(f"{row['path']} @ {place.start:.1f}-{place.end:.1f} s ({place.kind})", row["text"])


def with_text(path: str, text: str | None) -> str:
    """A file followed by its stored text (a title, a transcript, a note's start), quoted and cut to one line."""
    if not text:
        return path
    line = " ".join(text.split())
    return f'{path} "{line if len(line) <= TEXT_SHOWN else line[:TEXT_SHOWN - 1] + "…"}"'
