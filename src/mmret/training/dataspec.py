"""Data specs: which records of a captions benchmark to train or validate on, written `captions:PATH[start:stop]`.

`PATH` is a captions JSON file or a folder holding `captions.json`; `[start:stop]` slices its records in file
order and may be left out (all records) or open on either side (`[400:]`). `$VARS` and `~` are expanded;
in a config file, relative paths are relative to the file's folder (see config.load_config), elsewhere to the
working directory.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..data.datasets import RetrievalDataset, captions
from ..errors import BadInput

LAYOUTS = ("captions",)
_SPEC = re.compile(r"^(?P<layout>\w+):(?P<path>.+?)(?:\[(?P<start>\d*):(?P<stop>\d*)\])?$")


@dataclass(frozen=True)
class DataSpec:
    path: str
    start: int = 0
    stop: int | None = None
    layout: str = "captions"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise BadInput(f"unknown layout {self.layout!r}; training reads {LAYOUTS}")
        if self.start < 0 or (self.stop is not None and self.stop <= self.start):
            raise BadInput(f"bad slice [{self.start}:{self.stop}]: need 0 <= start < stop")

    @classmethod
    def parse(cls, text: str) -> DataSpec:
        match = _SPEC.match(text.strip())
        if not match:
            raise BadInput(f"{text!r} is not a data spec like captions:PATH or captions:PATH[0:400]")
        start, stop = match["start"], match["stop"]
        return cls(match["path"], int(start) if start else 0, int(stop) if stop else None, match["layout"])

    def resolved_path(self) -> Path:
        return Path(os.path.expandvars(self.path)).expanduser()

    def load(self) -> RetrievalDataset:
        return captions(self.resolved_path(), self.start, self.stop, name=str(self))

    def __str__(self) -> str:
        sliced = self.start != 0 or self.stop is not None
        return f"{self.layout}:{self.path}" + (f"[{self.start}:{'' if self.stop is None else self.stop}]" if sliced else "")
