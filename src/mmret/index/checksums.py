"""SHA-256 digests of a segment's two files, recorded with the segment when it is committed, so that `check`
can tell a file changed on disk (a flipped bit, a partial restore) from the one the commit wrote.

Collections written before digests were recorded (or by an older mmret) have none for their segments; those are
checked by loading them alone.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def segment_digests(directory: Path, name: str) -> tuple[str, str]:
    """(digest of `<name>.npy`, digest of `<name>.ids.npy`)."""
    return file_sha256(directory / f"{name}.npy"), file_sha256(directory / f"{name}.ids.npy")
