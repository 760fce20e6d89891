"""Helpers shared by the loss tests: small seeded batches and an optimisation run on an easy problem."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

CLASSES, PER_CLASS, DIM = 8, 4, 16


@dataclass
class Fit:
    first_loss: float
    last_loss: float
    accuracy_before: float
    accuracy_after: float


def _labelled_accuracy(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Leave-one-out nearest-neighbour label accuracy under cosine similarity."""
    x = F.normalize(x, dim=1)
    similarities = (x @ x.T).fill_diagonal_(-torch.inf)
    return (labels[similarities.argmax(1)] == labels).float().mean().item()


def _paired_accuracy(a: torch.Tensor, b: torch.Tensor) -> float:
    """Recall@1 of a_i retrieving b_i among all of b."""
    similarities = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    return (similarities.argmax(1) == torch.arange(len(a))).float().mean().item()


def _fit(loss: nn.Module, paired: bool, steps: int = 150, lr: float = 0.05) -> Fit:
    """Optimise free embeddings (and the loss's own parameters) with Adam, from a random start.

    paired: 32 matched pairs (a_i, b_i) called as loss(a, b); otherwise 8 classes × 4 as loss(x, labels=...).
    """
    generator = torch.Generator().manual_seed(0)
    n = CLASSES * PER_CLASS
    labels = torch.arange(CLASSES).repeat_interleave(PER_CLASS)
    if paired:
        embeddings = [nn.Parameter(torch.randn(n, DIM, generator=generator)) for _ in range(2)]
        objective = lambda: loss(*embeddings)
        accuracy = lambda: _paired_accuracy(*embeddings)
    else:
        embeddings = [nn.Parameter(torch.randn(n, DIM, generator=generator))]
        objective = lambda: loss(embeddings[0], labels=labels)
        accuracy = lambda: _labelled_accuracy(embeddings[0].detach(), labels)
    optimiser = torch.optim.Adam([*embeddings, *loss.parameters()], lr=lr)
    before = accuracy()
    values = []
    for _ in range(steps):
        optimiser.zero_grad()
        value = objective()
        value.backward()
        optimiser.step()
        values.append(value.item())
    with torch.no_grad():
        return Fit(values[0], objective().item(), before, accuracy())


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs on one torch thread (see tests/conftest.py)."""


@pytest.fixture
def fit():
    return _fit


@pytest.fixture
def labelled():
    """A seeded float32 batch of 8 classes × 4 samples in 16 dimensions, and its labels."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(CLASSES).repeat_interleave(PER_CLASS)
    return torch.randn(CLASSES * PER_CLASS, DIM, generator=generator), labels


@pytest.fixture
def paired():
    """A seeded float32 batch of 12 pairs (a_i, b_i) in 16 dimensions."""
    generator = torch.Generator().manual_seed(2)
    return torch.randn(12, DIM, generator=generator), torch.randn(12, DIM, generator=generator)


def _double(*shape: int, seed: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).requires_grad_()


@pytest.fixture
def double():
    """double(*shape, seed=3): a seeded float64 tensor that requires grad, for gradcheck."""
    return _double
