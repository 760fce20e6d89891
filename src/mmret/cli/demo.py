"""`mmret demo`: the offline demo."""
from __future__ import annotations

from pathlib import Path

from .common import model_options


def add(commands) -> None:
    demo = commands.add_parser("demo", help="index a small bundled photo set and run example queries, offline",
                               epilog="example:\n  mmret demo --out demo-out   # then open demo-out/results.html")
    demo.add_argument("--out", default="demo-out", help="folder for the collection and the HTML page")
    model_options(demo)
    demo.set_defaults(run=_demo)


def _demo(args) -> int:
    from ..demo.photos import run_demo

    return run_demo(Path(args.out), args.model, args.precision)
