"""Example queries for calibrating hybrid search (`mmret calibrate --hybrid FILE`): each a query text and the file
it should find.

FILE is either a text file of `query<TAB>path` lines (blank lines and lines starting with # are skipped) or a
captions manifest (`captions.json`, or a folder holding one: `[{"image": path, "captions": [texts]}]`), whose
captions are queries for their image. A relative path is read against FILE's folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..data.layouts.captions import captions_file, read_records
from ..errors import BadInput, NotFound


def read_hybrid_examples(file: str | os.PathLike) -> list[tuple[str, str]]:
    """(query, resolved path) pairs from a TSV or captions manifest; BadInput naming the line if
    malformed, NotFound if the file is not there."""
    source = Path(file).expanduser()
    if source.is_dir() or source.suffix.lower() == ".json":
        source = captions_file(source)
        if not source.is_file():
            raise NotFound(f"{source}: no such captions manifest")
        return [(caption, _absolute(source, record["image"])) for record in read_records(source)
                for caption in record["captions"]]
    if not source.is_file():
        raise NotFound(f"{source}: no such examples file")
    examples = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        query, tab, path = line.partition("\t")
        if not tab or not query.strip() or not path.strip():
            raise BadInput(f"{source}: line {number}: expected a query, a tab and the path of the file it finds")
        examples.append((query.strip(), _absolute(source, path.strip())))
    if not examples:
        raise BadInput(f"{source}: holds no example queries")
    return examples


def _absolute(source: Path, path: str) -> str:
    return str(source.parent.joinpath(Path(path).expanduser()).resolve())  # as indexing stores a file's path
