"""What one indexing run did: counts of added, updated, unchanged and removed files, and what was skipped."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data.sources import Skipped


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.removed} removed, {len(self.skipped)} skipped")
