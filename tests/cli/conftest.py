"""Fixtures for running the `mmret` command in-process, where loading a model can be forbidden."""
from __future__ import annotations

import pytest

from mmret.encoders.base import SHARED
from mmret.index.collection import VectorCollection


class ModelLoaded(BaseException):
    """Raised when a test that must fail before any model loads loads one (not an Exception: the CLI would report
    it as an internal error instead of letting it reach the test)."""


@pytest.fixture
def no_model_loads(monkeypatch):
    def forbidden(name, *args, **kwargs):
        raise ModelLoaded(f"model {name!r} was loaded")

    for target in ("mmret.models.load_encoder", "mmret.api.load_encoder", "mmret.encoders.loader.load_base"):
        monkeypatch.setattr(target, forbidden)


@pytest.fixture
def empty_collection(tmp_path):
    path = tmp_path / "coll"
    VectorCollection.create(path, "offline", {SHARED: 384}).close()
    return path
