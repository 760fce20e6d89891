"""A small real photo+title problem: flickr8k-500 images 0-31 to train, 32-47 to validate; caption 0 is the title."""
from __future__ import annotations

import pytest

TRAIN = (0, 32)
VALIDATION = (32, 48)


@pytest.fixture(scope="session")
def fusion_config(data_dir, tmp_path_factory):
    """fusion_config(method, **fusion fields) -> a TrainConfig of the small problem writing to a fresh folder."""
    from mmret.training.config import TrainConfig

    flickr = data_dir / "flickr8k-500"
    features = str(tmp_path_factory.mktemp("features"))

    def make(method: str = "attention", **fusion) -> TrainConfig:
        return TrainConfig.from_dict({
            "data": {"train": [f"captions:{flickr}[{TRAIN[0]}:{TRAIN[1]}]"],
                     "validation": f"captions:{flickr}[{VALIDATION[0]}:{VALIDATION[1]}]"},
            "output": str(tmp_path_factory.mktemp("run")), "cache_dir": features,
            "model": {"init": "bridge"}, "optimizer": {"lr": 3e-3, "warmup_steps": 3},
            "training": {"epochs": 3, "batch_size": 16, "checkpoint_every": 0, "patience": 0, "threads": 1,
                         "monitor": "text->image R@1"},
            "fusion": {"method": method, **fusion}})

    return make
