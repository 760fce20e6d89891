"""`mmret serve`: settings from flags, the app, uvicorn; 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from ..api import Collection
from ..errors import BadInput, MissingPackage
from .security import load_key_digests
from .settings import LOOPBACK_NAMES, MB, ServeSettings

log = logging.getLogger("mmret.serve")


def serve(collection: str | Path, host: str = "127.0.0.1", port: int = 8000, roots: list[str] | None = None,
          api_key_file: str | None = None, keys_for_reads: bool = False, max_upload_mb: float = 64,
          cors_origins: list[str] | None = None, request_timeout: float = 60.0, precision: str = "auto",
          allowed_hosts: list[str] | None = None, device: str = "auto", watch: list[str] | None = None) -> None:
    import uvicorn

    from .app import create_app

    settings = ServeSettings(roots=[Path(r).expanduser().resolve() for r in roots or []],
                             api_keys=load_key_digests(api_key_file), keys_for_reads=keys_for_reads,
                             max_upload_bytes=int(max_upload_mb * MB), cors_origins=list(cors_origins or []),
                             request_timeout=request_timeout,
                             allowed_hosts=[*LOOPBACK_NAMES, host, *(allowed_hosts or [])])
    for root in settings.roots:
        if not root.is_dir():
            raise BadInput(f"--root {root}: not a folder")
    if not is_loopback(host) and not settings.keys_for_reads:
        log.warning("serving on %s: anyone who can reach it can search and view the collection's files; "
                    "add --api-key-file FILE --keys-for-reads to require a key", host)
    if host in ("0.0.0.0", "::") and not allowed_hosts:
        log.warning("serving on %s: only requests with Host %s are answered; add --allowed-host NAME for the names "
                    "clients use to reach this machine", host, ", ".join(LOOPBACK_NAMES))
    opened = Collection.open(collection, precision=precision, create=False, device=device)
    watcher = _watcher(opened, watch) if watch else None  # a missing folder fails before the server starts
    app = create_app(opened, settings)
    print(f"mmret: serving {collection} on http://{host}:{port}/ (writes {'need a key' if settings.api_keys else 'off'})",
          flush=True)
    thread = watcher.start() if watcher else None
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=5)
    finally:
        if watcher:
            watcher.close()
            thread.join(timeout=5)  # a rescan still running is abandoned at exit: its open commit is discarded


def _watcher(collection: Collection, folders: list[str]):
    """A watcher of `folders` writing through its own handle on the collection (opened on the watcher's thread:
    SQLite handles stay on theirs), with the server's model."""
    try:
        from ..watch import FolderWatcher
    except ImportError as error:
        raise MissingPackage(f"mmret serve --watch needs watchdog: pip install 'mmret[watch]' ({error})") from error
    logging.getLogger("mmret.watch").setLevel(logging.INFO)
    return FolderWatcher(Collection(None, collection.encoder, path=collection.path), folders)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
