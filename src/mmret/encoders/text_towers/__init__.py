"""The offline encoder's text towers by name: one small file each behind base.TextTower, one line each in
TEXT_TOWERS. A tower's `model_part` names it in the offline model id ("offline:<model_part>+effnet-...");
nothing here imports a tower's package until `load_text_tower`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import BadInput, MissingPackage
from ..offline_pack import INSTALL_HINT
from .base import TextTower


@dataclass(frozen=True)
class TextTowerSpec:
    model_part: str  # in the model id: names the weights; a new part makes the old vectors incomparable
    dim: int
    languages: str  # what `mmret info` says
    module: str  # under mmret.encoders.text_towers, holding `cls`
    cls: str


TEXT_TOWERS = {
    "minilm": TextTowerSpec("minilm-l6", 384, "English", "minilm", "MiniLmTower"),
    "usem3": TextTowerSpec("usem3", 512, "16 languages: Arabic, Chinese (simplified and traditional), Dutch, English, "
                           "French, German, Italian, Japanese, Korean, Polish, Portuguese, Russian, Spanish, Thai, "
                           "Turkish", "usem3", "Usem3Tower"),
    "e5": TextTowerSpec("e5-small-q4", 384, "about 100 languages (multilingual-e5-small), Chinese and English among "
                        "them", "e5", "E5Tower"),
}
DEFAULT_TEXT_TOWER = "minilm"
MULTILINGUAL_TOWER = "usem3"
"""The multilingual text tower, chosen by benchmarks/multilingual.py (2026-12-05, 2 shared vCPUs, zero-shot ConSE,
no heads). Chosen on coco-mini val2017 (159 photos): Chinese text->image R@1/5/10 0.283/0.633/0.700 against e5's
0.283/0.550/0.683 (60 hand-translated captions; the same captions in English 0.283/0.667/0.733 and
0.267/0.583/0.750), every English caption 0.247/0.608/0.737 against 0.248/0.610/0.757 (795). Held out,
flickr8k-500[400:500] (100 photos): Chinese 0.14/0.38/0.56 against e5's 0.12/0.36/0.62, English 0.158/0.404/0.580
against 0.182/0.434/0.576 (500 captions): a tie within the noise of 100 queries. What decides: the languages meet
in usem3's space (a Chinese caption's nearest English caption is its own for 159 of 160, e5 145), which heads
trained on English captions rely on; 240 texts/s against 11 on one thread (10.7 against 96 ms a query); 33 MB
against 100 MB.
"""


def tower_named_by(model_part: str) -> str | None:
    """The tower whose model_part this is, or None."""
    return next((name for name, spec in TEXT_TOWERS.items() if spec.model_part == model_part), None)


def load_text_tower(name: str, precision: str = "auto", probe_cache: Path | None = None) -> TextTower:
    """The text tower `name`; `probe_cache` keeps a torch tower's precision probe (see encoders/precision.py)."""
    if name not in TEXT_TOWERS:
        raise BadInput(f"text tower must be one of {sorted(TEXT_TOWERS)}, got {name!r}")
    spec = TEXT_TOWERS[name]
    try:
        module = importlib.import_module(f"{__name__}.{spec.module}")
        return getattr(module, spec.cls)(precision, probe_cache)
    except ImportError as error:
        raise MissingPackage(f"the offline encoder's text tower {name!r} needs the offline model pack "
                             f"({error.name} is missing): {INSTALL_HINT}") from error
