"""Model names -> encoders. `offline` (the default) needs no network; a directory written by `mmret train` loads
its trained heads over its base encoder; any other name is a Hugging Face hub id or a local model directory
(CLIP, SigLIP, ChineseCLIP)."""
from __future__ import annotations

from pathlib import Path

from .base import Encoder

DEFAULT_MODEL = "offline"
#: the documented choice for quality when a model hub is reachable
RECOMMENDED_ONLINE_MODEL = "openai/clip-vit-base-patch32"


def load_encoder(name: str = DEFAULT_MODEL, precision: str = "auto") -> Encoder:
    """An encoder by name: "offline", an offline model id recorded in a collection, a hub id, or a directory."""
    if name == DEFAULT_MODEL or name.startswith(f"{DEFAULT_MODEL}:"):
        from .offline import OfflineEncoder

        encoder = OfflineEncoder(precision=precision)
        if name != DEFAULT_MODEL and name != encoder.model_id:
            raise ValueError(f"model {name!r} is an older offline bridge than this mmret's {encoder.model_id!r}; "
                             "re-index the collection")
        return encoder
    from ..training.saved import TrainedEncoder, is_trained_model_dir

    if is_trained_model_dir(name):
        return TrainedEncoder(name, None if precision == "auto" else precision)
    path = Path(name).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"model {name!r}: is a file, expected a model directory, a hub id or 'offline'")
    from .hf import HFEncoder

    return HFEncoder(str(path.resolve()) if path.is_dir() else name, precision=precision)
