"""The bf16 probe's result is kept per model, torch and machine, so each later process (every CLI call) skips the
probe; a damaged cache file is ignored and the probe runs again."""
from __future__ import annotations

import numpy as np
import torch

from mmret.encoders import precision


def counting_probe(calls: list):
    def probe(dtype):
        calls.append(dtype)
        vectors = np.eye(3, dtype=np.float32)
        return vectors if dtype == torch.float32 else vectors + 0.001
    return probe


def test_the_probe_runs_once_and_its_result_is_reused(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "bf16_supported", lambda: True)
    cache, calls = tmp_path / "precision.json", []
    first = precision.resolve_dtype("auto", counting_probe(calls), "tower A", cache)
    assert first == torch.bfloat16 and len(calls) == 2
    assert precision.resolve_dtype("auto", counting_probe(calls), "tower A", cache) == first and len(calls) == 2
    precision.resolve_dtype("auto", counting_probe(calls), "tower B", cache)  # another tower probes for itself
    assert len(calls) == 4
    assert precision.resolve_dtype("fp32", counting_probe(calls), "tower A", cache) == torch.float32


def test_a_damaged_cache_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "bf16_supported", lambda: True)
    cache, calls = tmp_path / "precision.json", []
    cache.write_text("{not json")
    assert precision.resolve_dtype("auto", counting_probe(calls), "tower A", cache) == torch.bfloat16
    assert len(calls) == 2 and "tower A" in cache.read_text()
