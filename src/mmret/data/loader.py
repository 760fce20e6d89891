"""Background decoding: media files are read, hashed, decoded and prepared in worker processes, in order,
with a bounded number of batches in flight so memory stays flat however many files there are."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .decode import DEFAULT_LIMITS, DecodeError, DecodeLimits, open_image, read_bytes
from .items import Item
from .workers import init_worker


@dataclass
class PreparedBatch:
    items: list[Item] = field(default_factory=list)
    prepared: list[Any] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # sha256 of each item's file bytes
    failures: list[tuple[Item, str]] = field(default_factory=list)  # (item, reason)


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1)))


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def open_media(data: bytes, item: Item, limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """The lazily opened payload a preparer receives: a PIL image, or an audio Waveform at its own rate."""
    if item.modality == "audio":
        from .audio import open_audio  # soundfile/PyAV are optional

        return open_audio(data, item.path)
    return open_image(data, item.path, limits)


def prepare_batch(items: list[Item], prepare: Callable[[Any], Any], limits: DecodeLimits = DEFAULT_LIMITS) -> PreparedBatch:
    """Decode and prepare one batch of media items; a bad file becomes a failure, never an exception."""
    batch = PreparedBatch()
    for item in items:
        try:
            data = read_bytes(item.path, limits)
            prepared = prepare(open_media(data, item, limits))
        except DecodeError as e:
            batch.failures.append((item, e.reason))
            continue
        except Exception as e:  # noqa: BLE001 -- a decoder bug on one odd file must not end a run over thousands
            batch.failures.append((item, f"could not decode: {type(e).__name__}: {e}"))
            continue
        batch.items.append(item)
        batch.prepared.append(prepared)
        batch.digests.append(hashlib.sha256(data).hexdigest())
    return batch


def prepared_batches(items: Iterable[Item], prepare: Callable[[Any], Any], batch_size: int = 32,
                     workers: int | None = None, limits: DecodeLimits = DEFAULT_LIMITS) -> Iterator[PreparedBatch]:
    """Batches of prepared media in input order. `prepare` receives what `open_media` returns and must be
    picklable; `workers=0` prepares in this process."""
    workers = default_workers() if workers is None else workers
    chunks = batched(items, batch_size)
    if workers == 0:
        for chunk in chunks:
            yield prepare_batch(chunk, prepare, limits)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=init_worker, initargs=(os.getpid(),))
    try:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(prepare_batch, chunk, prepare, limits))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:  # interrupted, or the consumer stopped early: do not wait for batches nobody reads
        # Running batches finish (a batch's time): terminating a worker mid-reply could leave half a message
        # in the result pipe, and the pool's manager thread blocked on it at exit. Waiting for the manager
        # thread matters too: left running, it raced the interpreter's exit hook on the closed wake-up pipe
        # (OSError: Bad file descriptor after "terminated: ..." under load).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
