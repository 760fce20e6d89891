"""Shared test fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data sets: $MMR_DATA_DIR, default ../shared/data beside the repo; skips if absent."""
    path = Path(os.environ.get("MMR_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} not found (set MMR_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def offline_encoder():
    """The real default encoder (pretrained weights from the offline pack), loaded once per run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmret.encoders.offline import OfflineEncoder

    return OfflineEncoder()


@pytest.fixture
def one_torch_thread():
    """For tests on tiny tensors: on a shared machine, intra-op threads cost far more than they save (8x seen)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
