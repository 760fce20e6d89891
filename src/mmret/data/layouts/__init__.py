"""Benchmark layouts as plug-ins: a layout name -> a loader `(path, start=0, stop=None, name=None, **options)
-> RetrievalDataset`. `register_layout` adds one; `load_dataset` picks one by name or recognises the path."""
from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...errors import BadInput
from .base import RetrievalDataset
from .captions import captions
from .categories import coco, has_categories
from .esc50 import esc50, is_esc50_table
from .folders import folders
from .fsdd import fsdd, is_fsdd_folder
from .qrels import QRELS_NAMES, qrels
from .table import labels

Loader = Callable[..., RetrievalDataset]

LAYOUTS: dict[str, Loader] = {"captions": captions, "coco": coco, "folders": folders, "labels": labels,
                              "esc50": esc50, "fsdd": fsdd, "qrels": qrels}


def register_layout(name: str, loader: Loader) -> None:
    if name in LAYOUTS:
        raise BadInput(f"layout {name!r} is already registered")
    LAYOUTS[name] = loader


def load_dataset(path: str | Path, start: int = 0, stop: int | None = None, layout: str | None = None,
                 **options: Any) -> RetrievalDataset:
    """The data set at `path` read by the named layout, or by the layout `detect_layout` recognises."""
    path = Path(path)
    if layout is None:
        layout, path, detected = detect_layout(path)
        options = {**detected, **options}
    if layout not in LAYOUTS:
        raise BadInput(f"unknown layout {layout!r}; known layouts: {', '.join(sorted(LAYOUTS))}")
    _check_options(layout, options)
    return LAYOUTS[layout](path, start=start, stop=stop, **options)


def _check_options(layout: str, options: Mapping[str, Any]) -> None:
    accepted = [name for name in inspect.signature(LAYOUTS[layout]).parameters if name not in ("path", "start", "stop")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise BadInput(f"layout {layout!r} has no option {unknown[0]!r}; its options: {', '.join(accepted)}")


def dataset_from_spec(spec: str, start: int = 0, stop: int | None = None,
                      options: Mapping[str, str] | None = None) -> RetrievalDataset:
    """`LAYOUT:PATH` or a bare PATH (recognised), with options as strings from a command line ("folds=4")."""
    layout, sep, path = spec.partition(":")
    typed = {key: _typed(value) for key, value in (options or {}).items()}
    if sep and layout in LAYOUTS:
        return load_dataset(path, start, stop, layout=layout, **typed)
    if sep and not Path(spec).exists():
        raise BadInput(f"{spec!r}: unknown layout {layout!r}; use LAYOUT:PATH with one of "
                       f"{', '.join(sorted(LAYOUTS))}, or a path")
    return load_dataset(spec, start, stop, **typed)


def detect_layout(path: Path) -> tuple[str, Path, dict[str, Any]]:
    """(layout, path to give it, options) for a path in one of the known layouts."""
    if path.is_file():
        return _file_layout(path), path, {}
    if (path / "captions.json").is_file():
        return ("coco" if has_categories(path) else "captions"), path, {}
    if any((path / name).is_file() for name in QRELS_NAMES):
        return "qrels", path, {}
    if any((path / name).is_file() and is_esc50_table(path / name) for name in ("esc50.csv", "meta/esc50.csv")):
        return "esc50", path, {}
    if is_fsdd_folder(path):
        return "fsdd", path, {}
    images = path / "images"
    if images.is_dir() and any(child.is_dir() for child in images.iterdir()):
        return "folders", images, {"name": path.name}
    return "folders", path, {}


def _file_layout(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix == ".json":
        return "coco" if has_categories(file) else "captions"
    if file.name in QRELS_NAMES or suffix == ".qrels":
        return "qrels"
    if suffix == ".csv" and is_esc50_table(file):
        return "esc50"
    if suffix in (".csv", ".tsv", ".jsonl"):
        return "labels"
    raise BadInput(f"{file}: cannot tell its layout; name one ({', '.join(sorted(LAYOUTS))})")


def _typed(value: str) -> Any:
    """A command-line option value: a JSON number, list or boolean when it parses as one, else the string."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, (int, float, bool, list)) else value
