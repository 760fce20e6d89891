"""Model names -> encoders, for every layer: the base model from the backend registry (registry.py), then the
audio paths ("+speech", "+audio-tower:DIR") joined to it, then the fusion of multimodal items ("+fusion:NAME").

Trained model folders load here too once mmret.training has registered its backend (importing it does).
"""
from __future__ import annotations

from collections.abc import Sequence

from .base import Encoder
from .model_id import SPEECH, AudioPath, ModelId
from .registry import DEFAULT_MODEL, load_base


def load_encoder(name: str = DEFAULT_MODEL, precision: str = "auto", device: str = "cpu") -> Encoder:
    """An encoder by name: "offline", a trained model directory (or the "DIR@HASH" id a collection records), an
    exported ONNX model folder, a hub id or a pretrained model directory, optionally followed by audio paths and a
    fusion. `device`: auto, cpu, cuda, cuda:N or mps (mmret.encoders.devices)."""
    model = ModelId.parse(name)
    encoder = _with_audio_paths(load_base(model.base_id, precision, device), model.audio)
    if model.fusion is None:
        return encoder
    from .fused import with_fusion

    return with_fusion(encoder, model.fusion)


def _with_audio_paths(base: Encoder, paths: Sequence[AudioPath]) -> Encoder:
    """`base` joined by its audio paths as one CompositeEncoder (`base` itself without any)."""
    if not paths:
        return base
    from .composite import CompositeEncoder

    sound = speech = None
    for path in paths:
        if path.kind == SPEECH:
            speech = _speech(base, path.where)
        else:
            sound = _audio_tower(base, path.where)
    return CompositeEncoder(base, sound, speech, [str(path.resolved()) for path in paths])


def _speech(base: Encoder, whisper_dir: str) -> Encoder:
    from .speech import SpeechEncoder, Transcriber

    return SpeechEncoder(base, Transcriber(whisper_dir or None))


def _audio_tower(base: Encoder, folder: str) -> Encoder:
    from .audio_tower import load_audio_tower_encoder

    return load_audio_tower_encoder(folder, base)
