"""The `mmret` command: parses arguments, validates them, calls the Python API and prints.

One module per command group; each adds its subcommands with `add(commands)`.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback

from .. import __version__
from ..errors import INTERNAL_EXIT_CODE, MmretError
from . import (
    calibrate,
    collection,
    demo,
    duplicates,
    embed,
    evaluate,
    export_model,
    faces,
    maintenance,
    search,
    serve,
    storage,
    train,
    watch,
)
from .common import CommandParser, HelpFormatter

COMMAND_GROUPS = (demo, collection, duplicates, calibrate, search, storage, embed, evaluate, train, serve,
                  maintenance, export_model, watch, faces)
PIPE_CLOSED_EXIT_CODE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`
EPILOG = """mmret COMMAND --help shows a command's options, their defaults and examples.
environment: MMRET_COLLECTION (default --collection), MMRET_MODEL (default --model)"""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(search.attached_part_values(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model loading bars drown the command's output
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = args.run(args) or 0
        sys.stdout.flush()  # a reader that left shows here, not in the interpreter's last flush
        return code
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt as stop:
        cause = "terminated" if isinstance(stop, _Terminated) else "interrupted"
        print(f"{cause}: {_what_was_kept(stop)}", file=sys.stderr)
        return 143 if isinstance(stop, _Terminated) else 130
    except MmretError as error:
        print(f"mmret: error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception:  # noqa: BLE001 -- not the user's doing: said as a defect, with its traceback
        traceback.print_exc()
        print("mmret: internal error: a defect in mmret, not in your input (the traceback above says where); "
              "committed work is kept", file=sys.stderr)
        return INTERNAL_EXIT_CODE


def _what_was_kept(stop: KeyboardInterrupt) -> str:
    """An interrupted `index` counts what it committed (pipeline/ingest.py); other commands commit as they go."""
    report = getattr(stop, "index_report", None)
    return report.kept() if report is not None else "committed work is kept; run the same command again to resume"


def _reader_gone() -> int:
    """The reader of stdout closed the pipe (`mmret ls --json | head`): stop without a word, as Unix tools do,
    with the exit status a shell gives a command that SIGPIPE ended."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the unwritten rest goes nowhere, quietly
    return PIPE_CLOSED_EXIT_CODE


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised wherever the run is, so that it stops as Ctrl-C does: the open commit is abandoned."""


def _raise_terminated(signum, frame) -> None:
    raise _Terminated


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mmret", epilog=EPILOG, formatter_class=HelpFormatter,
                                   description="Multimodal retrieval: index and search text, images, audio and video.")
    root.add_argument("--version", action="version", version=f"mmret {__version__}")
    commands = root.add_subparsers(required=True, metavar="COMMAND", parser_class=CommandParser)
    for group in COMMAND_GROUPS:
        group.add(commands)
    return root
