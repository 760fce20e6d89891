"""Options and checks shared by the subcommands."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data.sources import SourceError
from ..encoders.precision import PRECISIONS
from ..encoders.registry import DEFAULT_MODEL
from ..index.collection import CollectionError

USER_ERRORS = (ValueError, OSError, RuntimeError, ImportError, SourceError, CollectionError)


def model_options(parser: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL) -> None:
    parser.add_argument("--model", default=default,
                        help="'offline' (default, no network), a Hugging Face hub id, or a model directory; "
                             "add audio with '+speech' and/or '+audio-tower:DIR'")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="LAYOUT:PATH",
                        help="captions:, coco:, folders:, labels:, esc50:, fsdd:, qrels: followed by a path, or a path")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="layout option (repeatable)")
    parser.add_argument("--start", type=int, default=0, help="first record (captions) or file per class (folders)")
    parser.add_argument("--stop", type=int, default=None, help="end of the slice (exclusive)")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """KEY=VALUE arguments of a repeatable flag as a dict."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} {pair!r}: expected KEY=VALUE")
        values[key] = value
    return values


def print_skip(skipped) -> None:
    from tqdm import tqdm

    tqdm.write(f"skipped {skipped.where}: {skipped.reason}", file=sys.stderr)  # above the bar, not through it


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def check_exist(paths, flag: str) -> None:
    """Every path in `paths` (None entries skipped) exists, before anything is loaded."""
    for path in paths:
        if path is not None and not Path(path).expanduser().exists():
            raise ValueError(f"{flag} {path}: no such file or folder")


def check_models(names) -> None:
    from ..models import check_model_name

    for name in names:
        if name is not None:
            check_model_name(name)
