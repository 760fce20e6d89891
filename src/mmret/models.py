"""Model names -> encoders, for the surfaces (API, CLI, server): a directory written by `mmret train` loads its
trained model (training/), any other name goes to the pretrained registry (encoders/registry.py); either can be
followed by audio paths ("+speech", "+audio-tower:DIR"). It sits above both layers so neither imports the other.
"""
from __future__ import annotations

from .encoders.base import Encoder
from .encoders.registry import (
    DEFAULT_MODEL,
    load_base,
    split_audio_suffixes,
    with_audio_paths,
)

__all__ = ["DEFAULT_MODEL", "load_encoder"]


def load_encoder(name: str = DEFAULT_MODEL, precision: str = "auto") -> Encoder:
    """An encoder by name: "offline", a trained model directory (or the "DIR@HASH" id a collection records), a
    hub id or a pretrained model directory, optionally followed by audio paths."""
    base_name, suffixes = split_audio_suffixes(name)
    return with_audio_paths(_load_base(base_name, precision), suffixes)


def _load_base(name: str, precision: str) -> Encoder:
    if name != DEFAULT_MODEL:
        from .training.saved import TrainedEncoder, is_trained_model_dir

        if is_trained_model_dir(name):
            return TrainedEncoder(name, None if precision == "auto" else precision)
    return load_base(name, precision)
