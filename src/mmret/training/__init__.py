"""Training retrieval models: towers + projection heads, the trainer, augmentation and hyperparameter search.

    from mmret.training import train_from_config, TrainedEncoder
    model_dir = train_from_config("configs/train_offline_heads.yaml")
    encoder = TrainedEncoder(model_dir)          # an Encoder, like load_encoder("offline")
"""
from .config import ConfigError, TrainConfig, load_config
from .run import TrainedRun, train, train_from_config, tune_from_config
from .saved import TrainedEncoder, is_trained_model_dir

__all__ = [
    "ConfigError",
    "TrainConfig",
    "TrainedEncoder",
    "TrainedRun",
    "is_trained_model_dir",
    "load_config",
    "train",
    "train_from_config",
    "tune_from_config",
]
