"""Fixtures of the pipeline tests."""
from types import SimpleNamespace

import pytest


@pytest.fixture
def embedded(offline_encoder, monkeypatch):
    """The offline encoder, counting the items it embeds in `embedded.count`."""
    inner = offline_encoder.embed_prepared
    embedded = SimpleNamespace(count=0)

    def counting(modality, batch):
        vectors = inner(modality, batch)
        embedded.count += len(next(iter(vectors.values())))
        return vectors

    monkeypatch.setattr(offline_encoder, "embed_prepared", counting)
    return embedded
