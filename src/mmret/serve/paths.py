"""Server-side paths a client names must stay inside the configured roots: no `..`, no absolute path elsewhere,
no symlink leading out (the check is on the fully resolved path)."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import BadInput, Forbidden


class OutsideRoots(Forbidden):
    """A path that is not inside any configured root."""


def inside_roots(name: str, roots: list[Path]) -> Path:
    """The resolved path `name` stands for: absolute, or relative to the first root; it must exist."""
    if not roots:
        raise OutsideRoots(f"{name!r}: this server has no roots configured (start it with --root DIR)")
    if "\x00" in name:
        raise BadInput(f"{name!r}: a path cannot hold a NUL byte")
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        raise OutsideRoots(f"{name!r}: '..' is not allowed in a path")
    candidate = Path(name) if Path(name).is_absolute() else roots[0] / name
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        raise OutsideRoots(f"{name!r}: no such file or folder inside the roots") from None
    if not within(resolved, roots):
        raise OutsideRoots(f"{name!r}: outside the server's roots")
    return resolved


def within(path: Path, roots: list[Path]) -> bool:
    """Whether the resolved `path` lies inside one of the (resolved) roots."""
    resolved = path.resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)
