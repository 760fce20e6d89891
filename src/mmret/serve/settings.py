"""What a server is allowed to do and with which limits; the CLI flags map onto these fields."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..index.backend import MILVUS_SCHEME, is_milvus
from .pictures import default_decode_budget

MB = 1024 * 1024
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
FORM_OVERHEAD = 64 * 1024  # room for a form's text fields and part headers beside its file


@dataclass
class ServeSettings:
    roots: list[Path] = field(default_factory=list)  # server-side folders that adds, re-indexes and media may use
    upload_dir: Path | None = None  # where uploaded items are kept (default: <collection>/uploads); always a root
    api_keys: list[str] = field(default_factory=list)  # sha256 hex digests of accepted keys
    keys_for_reads: bool = False  # also require a key to search and read
    max_upload_bytes: int = 64 * MB  # per request: all its files together
    cors_origins: list[str] = field(default_factory=list)  # empty: no CORS headers (same origin only)
    # Host header names answered (others 400, against DNS rebinding); '*' answers any
    allowed_hosts: list[str] = field(default_factory=lambda: list(LOOPBACK_NAMES))
    request_timeout: float = 60.0  # seconds until a request is answered 504
    thumbnail_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mmret-thumbnails")
    decode_memory: int = field(default_factory=default_decode_budget)  # bytes of pictures decoded at once
    refresh_interval: float = 0.5  # seconds between checks for commits made by other processes

    def upload_root(self, collection_path: Path | str) -> Path:
        """The upload folder: <collection>/uploads; beside a Milvus Lite database (NAME.db-uploads), which Milvus
        Lite owns; for a Milvus server collection, ~/.local/share/mmret/uploads/<host>_<port>_<name>."""
        if self.upload_dir is not None:
            return self.upload_dir.resolve()
        if isinstance(collection_path, str):
            return (Path.home() / ".local/share/mmret/uploads" / re.sub(r"\W+", "_", collection_path[len(MILVUS_SCHEME):])).resolve()
        if is_milvus(collection_path):
            return collection_path.with_name(collection_path.name + "-uploads").resolve()
        return (collection_path / "uploads").resolve()

    def body_limit(self) -> int:
        """The most bytes of a request body the server reads; past it the request is answered 413."""
        return self.max_upload_bytes + FORM_OVERHEAD

    def all_roots(self, collection_path: Path) -> list[Path]:
        return [root.resolve() for root in self.roots] + [self.upload_root(collection_path)]
