"""A search request: its query parts (text, image, audio, stored item, more parts with weights and negatives), how
many results, the filter, the space, and how lists are fused."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput
from ..fusion import DECISION_FUSIONS, NORMS
from ..index.base import SearchParams
from .modes import check_mode
from .parts import ITEM, QueryPart, check_parts

if TYPE_CHECKING:  # PIL and the audio decoders load only for an image or audio query
    from PIL import Image

    from ..data.audio import Waveform


@dataclass(frozen=True)
class Query:
    text: str | None = None
    image: str | Path | Image.Image | None = None  # a file, or a picture already decoded (a video's frame)
    audio: str | Path | Waveform | None = None
    k: int = 10
    where: dict | None = None
    space: str | None = None  # None: the best space for the query's parts
    exclude: list[str] | None = None
    per_file: bool = True
    params: SearchParams | None = None  # ANN parameters for this query (default: those tuned by optimize)
    parts: tuple[QueryPart, ...] = ()  # more parts, with weights and negatives, beside text, image, audio, like
    fusion: str | None = None  # None: one fused query vector; rrf, combsum, combmnz, combprod: fuse result lists
    norm: str = "min-max"  # of each list's scores for combsum and combmnz
    like: str | None = None  # a stored item (id or file path) to search by, with its stored vectors
    mode: str | None = None  # hybrid, semantic or keyword (mmret.query.modes); None: hybrid where there are words
    min_relevance: float | None = None  # leave out hits whose calibrated relevance is lower (query/relevance.py)

    def __post_init__(self):
        check_parts(self.all_parts)
        check_mode(self.mode)
        if self.fusion is not None and self.fusion not in DECISION_FUSIONS:
            raise BadInput(f"unknown decision-level fusion {self.fusion!r}; choose from {sorted(DECISION_FUSIONS)}")
        if self.norm not in NORMS:
            raise BadInput(f"unknown score normalisation {self.norm!r}; choose from {NORMS}")
        if self.min_relevance is not None and not 0.0 <= self.min_relevance <= 1.0:
            raise BadInput(f"min_relevance: a probability between 0 and 1, got {self.min_relevance!r}")

    @property
    def all_parts(self) -> list[QueryPart]:
        given = [QueryPart(m, v) for m, v in (("text", self.text), ("image", self.image), ("audio", self.audio),
                                              (ITEM, self.like)) if v is not None]
        return given + list(self.parts)
