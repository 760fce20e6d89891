"""Uploaded files: size-limited, their type sniffed from the first bytes (never the name or the header), kept
in a temporary file with the extension the decoders expect, or in a folder under the client's file name."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException, UploadFile

from .upload_names import create_unique, safe_name

CHUNK = 1 << 20


@dataclass(frozen=True)
class Sniffed:
    modality: str  # image, audio or video
    extension: str


def sniff(head: bytes) -> Sniffed | None:
    """The kind of media these first bytes start, or None."""
    riff = head[8:12] if head[:4] == b"RIFF" else b""
    signatures = [
        (head[:3] == b"\xff\xd8\xff", Sniffed("image", ".jpg")),
        (head[:8] == b"\x89PNG\r\n\x1a\n", Sniffed("image", ".png")),
        (head[:4] in (b"GIF8",), Sniffed("image", ".gif")),
        (riff == b"WEBP", Sniffed("image", ".webp")),
        (head[:2] == b"BM", Sniffed("image", ".bmp")),
        (riff == b"WAVE", Sniffed("audio", ".wav")),
        (head[:4] == b"fLaC", Sniffed("audio", ".flac")),
        (head[:4] == b"OggS", Sniffed("audio", ".ogg")),
        (head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0),
         Sniffed("audio", ".mp3")),
        (head[4:8] == b"ftyp" and head[8:11] == b"M4A", Sniffed("audio", ".m4a")),
        (head[4:8] == b"ftyp", Sniffed("video", ".mp4")),
        (head[:4] == b"\x1a\x45\xdf\xa3", Sniffed("video", ".webm")),
        (riff == b"AVI ", Sniffed("video", ".avi")),
    ]
    return next((kind for matches, kind in signatures if matches), None)


def save_upload(upload: UploadFile, field: str, limit: int, expected: tuple[str, ...], folder: Path | None = None
                ) -> tuple[Path, Sniffed]:
    """Write the upload to a new file (in `folder` under the client's name made safe, else a temporary file); 413
    past `limit` bytes, 415 when its content is not one of the `expected` modalities. The caller deletes
    temporary files."""
    head = upload.file.read(64)
    kind = sniff(head)
    name = upload.filename or field
    if kind is None:
        raise HTTPException(415, f"{field} ({name}): not a supported image, audio or video file (by its content)")
    if kind.modality not in expected:
        raise HTTPException(415, f"{field} ({name}): the content is {kind.modality} ({kind.extension}), "
                                 f"but {field} takes {' or '.join(expected)}")
    if folder is None:
        out = tempfile.NamedTemporaryFile(suffix=kind.extension, delete=False)  # noqa: SIM115 (closed below)
        path = Path(out.name)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        path, out = create_unique(folder, safe_name(upload.filename, kind.modality, kind.extension))
    with out:
        size = len(head)
        out.write(head)
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise HTTPException(413, f"{field} ({name}): larger than this server's limit of {limit} bytes")
            out.write(chunk)
    return path, kind
