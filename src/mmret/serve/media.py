"""Pictures of stored items: thumbnails made on demand and cached on disk, and a video's frame at a time (for a
shot's thumbnail and for searching by an uploaded video)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PIL import Image

from ..data.decode import DecodeError
from .opened import OpenedFile
from .pictures import DecodeBudget, small_picture

THUMBNAIL_SIDES = (128, 256, 512)


def thumbnail(opened: OpenedFile, modality: str, side: int, at: float, cache: Path, decodes: DecodeBudget) -> Path:
    """A JPEG of at most `side` pixels a side: the photo, or the video's frame `at` seconds in; cached by the
    file's identity (path, inode, size, mtime), the side and, for a video, the time (a photo has one per side)."""
    stat, path = opened.status, opened.by_descriptor
    moment = f"|{at:.2f}" if modality == "video" else ""
    identity = f"{opened.real}|{stat.st_dev}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}"
    key = hashlib.sha256(f"{identity}|{side}{moment}".encode()).hexdigest()
    cached = cache / f"{key}.jpg"
    if cached.is_file():
        return cached
    if modality == "video":
        picture = frame_at(path, at)
        picture.thumbnail((side, side))
    else:
        picture = small_picture(path, side, decodes)
    cache.mkdir(parents=True, exist_ok=True)
    temp = cached.with_suffix(f".{os.getpid()}.tmp")
    picture.convert("RGB").save(temp, "JPEG", quality=85)
    os.replace(temp, cached)  # concurrent requests for one thumbnail never see half a file
    return cached


def frame_at(path: Path, seconds: float) -> Image.Image:
    """The first decoded frame at or after `seconds` (the last one if the video ends before)."""
    import av

    where = str(path)
    try:
        with av.open(where) as container:
            if not container.streams.video:
                raise DecodeError(where, "no video stream")
            stream = container.streams.video[0]
            if stream.time_base and seconds > 0:
                container.seek(int(seconds / stream.time_base), stream=stream, backward=True, any_frame=False)
            frame = None
            for frame in container.decode(stream):
                if frame.pts is not None and float(frame.pts * stream.time_base) >= seconds:
                    break
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise DecodeError(where, f"cannot decode a frame at {seconds:.1f} s: {error}") from error
    if frame is None:
        raise DecodeError(where, "no decodable video frame")
    return frame.to_image()
