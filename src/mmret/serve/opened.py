"""A stored item's file opened once and checked by what was opened: its real path (from the descriptor) must lie
inside the roots, and that descriptor is what is served, so a file swapped for a symlink between the check and the
read cannot lead outside them."""
from __future__ import annotations

import fcntl
import mimetypes
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from ..errors import Forbidden, NotFound


@dataclass(frozen=True)
class OpenedFile:
    descriptor: int
    real: Path  # where the opened file is now
    status: os.stat_result

    @property
    def by_descriptor(self) -> Path:
        """A name that reopens this very file (not whatever its path names now)."""
        return Path(f"/dev/fd/{self.descriptor}")

    def close(self) -> None:
        os.close(self.descriptor)


def open_inside(path: str, roots: list[Path] | None) -> OpenedFile:
    """Open the regular file `path`; with `roots`, the opened file must lie inside one of them."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise NotFound(f"{path}: the item's file is gone") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotFound(f"{path}: the item's file is gone (not a regular file now)")
        real = _real_path(descriptor)  # canonical already: resolving it again would race with a swap
        if roots and not (_same_file(real, status) and any(real.is_relative_to(root) for root in roots)):
            raise Forbidden(f"{path}: outside the server's roots")
        return OpenedFile(descriptor, real, status)
    except BaseException:
        os.close(descriptor)
        raise


def _real_path(descriptor: int) -> Path:
    if hasattr(fcntl, "F_GETPATH"):  # macOS
        return Path(os.fsdecode(fcntl.fcntl(descriptor, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\0")))
    return Path(os.readlink(f"/proc/self/fd/{descriptor}"))


def _same_file(real: Path, status: os.stat_result) -> bool:
    try:
        now = os.stat(real, follow_symlinks=False)
    except OSError:
        return False  # moved or deleted since it was opened
    return (now.st_dev, now.st_ino) == (status.st_dev, status.st_ino)


class OpenedFileResponse(FileResponse):
    """The opened file (with Range support), closed when the response ends however it ends."""

    def __init__(self, opened: OpenedFile, headers: dict[str, str]) -> None:
        media_type = mimetypes.guess_type(opened.real.name)[0] or "application/octet-stream"
        super().__init__(opened.by_descriptor, media_type=media_type, headers=headers, stat_result=opened.status)
        self.opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.opened.close()
