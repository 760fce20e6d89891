"""Result rows as terminal lines."""
from __future__ import annotations

import json

from ..media.segments import END, SEGMENT, SEGMENT_KEYS, START


def format_row(row: dict) -> str:
    """One line for a terminal: rank, score, what matched, and the metadata that is not a segment's place."""
    shown = {k: v for k, v in row["metadata"].items() if k not in SEGMENT_KEYS}
    metadata = json.dumps(shown, ensure_ascii=False) if shown else ""
    return f"{row['rank']:>3}  {row['score']:.4f}  {_what(row)}  {metadata}"


def _what(row: dict) -> str:
    """The file (with the segment's time range) or the text a result stands for."""
    meta = row["metadata"]
    if row["path"] is None:
        return row["text"] if row["text"] is not None else row["id"]
    if START not in meta:
        return row["path"]
    said = f' "{row["text"]}"' if row["text"] else ""
    return f"{row['path']} @ {meta[START]:.1f}-{meta[END]:.1f} s ({meta[SEGMENT]}){said}"
