"""Options and checks shared by the subcommands."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..encoders.devices import DEVICE_CHOICES, check_device
from ..encoders.precision import PRECISIONS
from ..encoders.registry import DEFAULT_MODEL
from ..errors import BadInput


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks and shows each option's default (when it has one worth showing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an unknown flag is reported with this subcommand's usage, not the top-level one."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def collection_option(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("MMRET_COLLECTION")
    parser.add_argument("--collection", required=default is None, default=default, metavar="DIR",
                        help="the collection: a folder, a Milvus Lite file NAME.db, or milvus://HOST:PORT/NAME on a "
                             "Milvus server (environment: MMRET_COLLECTION)")


def default_model() -> str:
    return os.environ.get("MMRET_MODEL") or DEFAULT_MODEL


def model_options(parser: argparse.ArgumentParser, default: str | None = DEFAULT_MODEL) -> None:
    parser.add_argument("--model", default=default and default_model(),
                        help="'offline' or 'offline-lite2' (no network; lite2 has a larger image tower), a Hugging "
                             "Face hub id, or a model directory; add audio with '+speech' and/or '+audio-tower:DIR' "
                             "(environment: MMRET_MODEL)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")


def device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", type=_device, default="auto", metavar=DEVICE_CHOICES,
                        help="where the model runs: auto takes a GPU when torch (or, for an ONNX model folder, "
                             "onnxruntime) sees one, else the CPU; asking for a GPU that is not there is an error")


def _device(text: str) -> str:
    try:
        return check_device(text)
    except BadInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="LAYOUT:PATH",
                        help="captions:, coco:, folders:, labels:, esc50:, fsdd:, qrels: followed by a path, or a path")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="layout option (repeatable)")
    parser.add_argument("--start", type=int, default=0, help="first record (captions) or file per class (folders)")
    parser.add_argument("--stop", type=int, default=None, help="end of the slice (exclusive)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="items embedded at once")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="bf16 when it agrees with fp32")
    device_option(parser)


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """KEY=VALUE arguments of a repeatable flag as a dict."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag} {pair!r}: expected KEY=VALUE")
        values[key] = value
    return values


def print_skip(skipped) -> None:
    from tqdm import tqdm

    tqdm.write(f"skipped {skipped}", file=sys.stderr)  # above the bar, not through it


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
            raise BadInput(f"{flag} {path}: no such file or folder")


def check_models(names) -> None:
    from ..models import check_model_name

    for name in names:
        if name is not None:
            check_model_name(name)


def open_store(path: str):
    """The stored collection alone, for commands that need no model (and so no torch)."""
    from ..index.backend import open_collection

    return open_collection(path)
