"""An encoder over another one: trained heads or a fusion on top of a base encoder's own vectors."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import Encoder


class WrappedEncoder(Encoder):
    """Items are prepared, collated and given spaces as `base` does; a subclass changes only what the vectors are."""

    base: Encoder

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        return self.base.preparer(modality)

    def collate(self, modality: str, prepared: Sequence[Any]) -> Any:
        return self.base.collate(modality, prepared)

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        return self.base.spaces_for(modality)
