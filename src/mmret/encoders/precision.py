"""Inference precision: bf16 where the CPU has bf16 matrix instructions and the embeddings agree with fp32.

bf16 is several times faster than fp32 on CPUs with AVX512-BF16/AMX, but a model's embeddings are only
used in bf16 after a probe batch shows they point the same way as fp32 ones (min row cosine >= 0.99). The probe's
result can be kept in a small JSON file per model, so that later processes (each CLI call) skip the probe.
"""
from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BadInput

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16")
MIN_AGREEMENT = 0.99

log = logging.getLogger(__name__)


def bf16_supported() -> bool:
    """True when oneDNN has fast bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest cosine between corresponding rows of a and b."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


def resolve_dtype(requested: str, probe: Callable[[torch.dtype], np.ndarray], what: str,
                  cache: Path | None = None, device: str = "cpu") -> torch.dtype:
    """The dtype to run `what` in.

    `probe(dtype)` embeds a fixed probe batch in that dtype. "fp32" never probes; "bf16" and "auto" use bf16
    only when the CPU supports it and the probe agrees with fp32; "bf16" warns when it falls back. On a GPU
    (`device` cuda...) the half type is bf16 where the GPU has it, else fp16, under the same probe. With `cache`
    (a JSON file), the agreement measured for `what` on this torch and machine is read from it, or stored there.
    """
    import torch

    if requested not in PRECISIONS:
        raise BadInput(f"precision must be one of {PRECISIONS}, got {requested!r}")
    if requested == "fp32":
        return torch.float32
    if device.startswith("cuda"):
        half = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return _agreeing(half, probe, f"{what} on {torch.cuda.get_device_name(device)}", torch)
    if not bf16_supported():
        if requested == "bf16":
            log.warning("%s: this CPU has no fast bf16 kernels; using fp32", what)
        return torch.float32
    key = f"{what} | torch {torch.__version__} | {platform.machine()} {platform.processor()}"
    agreement = _cached_agreements(cache).get(key)
    if not isinstance(agreement, float):
        agreement = min_cosine(probe(torch.float32), probe(torch.bfloat16))
        _store_agreement(cache, key, agreement)
    if agreement < MIN_AGREEMENT:
        log.warning("%s: bf16 embeddings agree with fp32 only to cosine %.4f < %.2f; using fp32",
                    what, agreement, MIN_AGREEMENT)
        return torch.float32
    log.info("%s: bf16 (probe agreement with fp32: min cosine %.4f)", what, agreement)
    return torch.bfloat16


def _agreeing(half: torch.dtype, probe: Callable[[torch.dtype], np.ndarray], what: str, torch) -> torch.dtype:
    agreement = min_cosine(probe(torch.float32), probe(half))
    if agreement < MIN_AGREEMENT:
        log.warning("%s: %s embeddings agree with fp32 only to cosine %.4f; using fp32", what, half, agreement)
        return torch.float32
    log.info("%s: %s (probe agreement with fp32: min cosine %.4f)", what, half, agreement)
    return half


def _cached_agreements(cache: Path | None) -> dict:
    if cache is None or not cache.is_file():
        return {}
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("ignoring unusable precision cache %s", cache)
        return {}
    return stored if isinstance(stored, dict) else {}


def _store_agreement(cache: Path | None, key: str, agreement: float) -> None:
    if cache is None:
        return
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({**_cached_agreements(cache), key: agreement}, indent=1), encoding="utf-8")
        os.replace(partial, cache)  # atomic: a concurrent reader sees the old file or the new one
    except OSError as error:
        log.warning("could not cache the precision probe in %s (%s)", cache, error)
