"""`fsdd`: the Free Spoken Digit Dataset, `recordings/{digit}_{speaker}_{take}.wav`. Items are labelled by
the spoken `digit` (the default; text->audio then queries each digit by its word, "three") or by `speaker`
(audio->audio only). `start`/`stop` slice the takes: takes 0-4 (`stop=5`) are the usual test split."""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import BadInput
from ..items import Item
from .base import RetrievalDataset, slice_text, sliced_name
from .labels import labelled_dataset

FSDD_NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<take>\d+)\.wav")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LABELS = ("digit", "speaker")


def fsdd(path: str | Path, start: int = 0, stop: int | None = None, name: str | None = None,
         label: str = "digit", template: str = "{}") -> RetrievalDataset:
    if label not in LABELS:
        raise BadInput(f"fsdd label must be one of {LABELS}, got {label!r}")
    root = Path(path)
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    if not folder.is_dir():
        raise BadInput(f"{root}: not an FSDD folder (no recordings/)")
    clips = [clip for clip in map(_clip, sorted(folder.glob("*.wav"), key=_take_order))
             if start <= clip.metadata["take"] and (stop is None or clip.metadata["take"] < stop)]
    if not clips:
        raise BadInput(f"{folder}: no {{digit}}_{{speaker}}_{{take}}.wav recordings with takes in "
                       f"{slice_text(start, stop)}")
    labels = [{DIGIT_WORDS[clip.metadata["digit"]] if label == "digit" else clip.metadata["speaker"]}
              for clip in clips]
    base = name or sliced_name(root.name, start, stop)
    return labelled_dataset(base, clips, labels, template if label == "digit" else None)


def is_fsdd_folder(root: Path) -> bool:
    folder = root / "recordings"
    return folder.is_dir() and any(FSDD_NAME.fullmatch(f.name) for f in folder.glob("*.wav"))


def _take_order(file: Path) -> tuple:
    match = FSDD_NAME.fullmatch(file.name)
    return (int(match["digit"]), match["speaker"], int(match["take"])) if match else (-1, file.name, -1)


def _clip(file: Path) -> Item:
    match = FSDD_NAME.fullmatch(file.name)
    if match is None:
        raise BadInput(f"{file}: not an FSDD recording name ({{digit}}_{{speaker}}_{{take}}.wav)")
    return Item(file.name, "audio", path=str(file),
                metadata={"digit": int(match["digit"]), "speaker": match["speaker"], "take": int(match["take"])})
