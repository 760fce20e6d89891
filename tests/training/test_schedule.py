"""The learning rate an optimiser actually gets follows linear warmup, then half a cosine down to the floor."""
from __future__ import annotations

import math

import pytest
import torch

from mmret.training.schedule import warmup_cosine, warmup_cosine_scheduler

LR, WARMUP, TOTAL, FLOOR = 0.1, 4, 20, 0.1


def applied_rates() -> list[float]:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=LR)
    scheduler = warmup_cosine_scheduler(optimizer, WARMUP, TOTAL, FLOOR)
    rates = []
    for _ in range(TOTAL):
        rates.append(optimizer.param_groups[0]["lr"])  # the rate this step uses
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_is_linear_and_never_zero():
    rates = applied_rates()
    assert rates[:WARMUP] == pytest.approx([LR * (k + 1) / WARMUP for k in range(WARMUP)])


def test_cosine_after_warmup_reaches_the_floor():
    rates = applied_rates()
    expected = [LR * (FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * (s - WARMUP) / (TOTAL - WARMUP))))
                for s in range(WARMUP, TOTAL)]
    assert rates[WARMUP:] == pytest.approx(expected)
    assert rates[WARMUP] == pytest.approx(LR)
    assert all(a > b for a, b in zip(rates[WARMUP:], rates[WARMUP + 1:]))
    assert warmup_cosine(TOTAL, WARMUP, TOTAL, FLOOR) == pytest.approx(FLOOR)
    assert warmup_cosine(10 * TOTAL, WARMUP, TOTAL, FLOOR) == pytest.approx(FLOOR)  # stays at the floor after


def test_midpoint_of_the_cosine_is_halfway_to_the_floor():
    middle = WARMUP + (TOTAL - WARMUP) // 2
    assert warmup_cosine(middle, WARMUP, TOTAL, FLOOR) == pytest.approx((1 + FLOOR) / 2)


def test_no_warmup_starts_at_the_full_rate():
    assert warmup_cosine(0, 0, TOTAL) == pytest.approx(1.0)
