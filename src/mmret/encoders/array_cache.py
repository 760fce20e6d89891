"""Arrays that cost seconds to compute, cached as .npy files under the user cache dir."""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmret"


def cached_array(path: Path | None, compute: Callable[[], np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """The float32 array stored at `path` if it has `shape`, else `compute()` (stored there when writable)."""
    if path is not None and path.is_file():
        try:
            stored = np.load(path, allow_pickle=False)
            if stored.shape == shape and stored.dtype == np.float32:
                return stored
        except (OSError, ValueError):
            pass
        log.warning("ignoring unusable cache file %s", path)
    array = np.ascontiguousarray(compute(), dtype=np.float32)
    if path is not None:
        _store(path, array)
    return array


def _store(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as file:
            np.save(file, array)
        os.replace(partial, path)  # atomic: concurrent loaders see the old file or the whole new one
    except OSError as error:
        log.warning("could not cache %s (%s); it will be recomputed next time", path, error)
        with contextlib.suppress(OSError):
            partial.unlink()
