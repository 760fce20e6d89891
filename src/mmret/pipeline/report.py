"""What one indexing run did: counts of added, updated, unchanged and removed files, what was skipped, and how many
fused items missed one of their parts."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..data.sources import Skipped


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    missing_parts: int = 0  # fused items indexed without one of their parts (an image without text, or the reverse)
    to_embed: int = 0  # files and texts the reader found new or changed
    committed: int = 0  # of those, the ones whose commit is done (the writer stage's count)
    moved: int = 0  # renamed or moved files that kept their stored vectors (sync only)
    copied: int = 0  # of those added or updated, the files that took a stored file's vectors (same content)
    gone: int = 0  # stored files under the folders indexed that no longer exist (left stored without sync)
    faces: int = 0  # face segments stored
    faces_too_small: int = 0  # faces found but smaller than the minimum size, left out

    def kept(self) -> str:
        """What an interrupted run kept, for its last line."""
        if self.committed == 0:
            return "nothing was committed yet"
        if self.committed >= self.to_embed:
            return f"kept all {self.to_embed} new or changed items"
        return f"kept {self.committed} of {self.to_embed}; run again to add the rest"

    def summary(self) -> str:
        """One line; skips are counted by reason, most frequent first: "3 skipped (2 empty file, 1 not an image)"."""
        by_kind = Counter(skipped.kind for skipped in self.skipped).most_common()
        kinds = f" ({', '.join(f'{count} {kind}' for kind, count in by_kind)})" if by_kind else ""
        missing = f", {self.missing_parts} fused without one of their parts" if self.missing_parts else ""
        moved = f", {self.moved} moved" if self.moved else ""
        copied = f" ({self.copied} copies, not embedded)" if self.copied else ""
        small = f" ({self.faces_too_small} smaller than the minimum left out)" if self.faces_too_small else ""
        faces = f", {self.faces} faces{small}" if self.faces or self.faces_too_small else ""
        gone = f"; {self.gone} stored files are gone from disk; --sync removes them" if self.gone else ""
        return (f"{self.added} added, {self.updated} updated{copied}, {self.unchanged} unchanged, "
                f"{self.removed} removed{moved}, {len(self.skipped)} skipped{kinds}{missing}{faces}{gone}")
