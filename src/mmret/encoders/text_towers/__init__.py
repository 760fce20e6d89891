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
