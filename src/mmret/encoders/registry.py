"""Pretrained model names -> encoders. `offline` (the default) needs no network; any other name is a Hugging Face
hub id or a local model directory (CLIP, SigLIP, ChineseCLIP, CLAP). `offline-lite2` is the offline pack with its
larger image tower. Directories written by `mmret train` are
resolved above this layer, in `mmret.models`, which then adds the audio paths with `with_audio_paths`.

Audio paths into a text encoder's space are added with suffixes: `offline+speech` (Whisper transcripts, optionally
`+speech:WHISPER_DIR`) and `offline+audio-tower:DIR` (a tower saved by `mmret train-audio`); both can be combined.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import Encoder

DEFAULT_MODEL = "offline"
#: the offline pack's models (no network): the default, and its larger image tower (see mmret.encoders.offline)
OFFLINE_MODELS = {"offline": "lite0", "offline-lite2": "lite2"}  # name -> image tower
#: the documented choice for quality when a model hub is reachable
RECOMMENDED_ONLINE_MODEL = "openai/clip-vit-base-patch32"
#: a trained model's id: its directory and the first 12 hex digits of its weights' sha256 ("DIR@HASH")
HASHED_MODEL_ID = re.compile(r"^(?P<path>.+)@(?P<hash>[0-9a-f]{12})$")
_AUDIO_SUFFIX = re.compile(r"^(?P<rest>.+)\+(?P<path>speech(?::[^+]+)?|audio-tower:[^+]+)$")


def load_pretrained(name: str = DEFAULT_MODEL, precision: str = "auto") -> Encoder:
    """An encoder by name: "offline" or "offline-lite2", an offline model id recorded in a collection, a hub id, or a model
    directory, optionally followed by audio paths ("+speech", "+audio-tower:DIR")."""
    base_name, suffixes = split_audio_suffixes(name)
    return with_audio_paths(load_base(base_name, precision), suffixes)


def with_audio_paths(base: Encoder, suffixes: list[str]) -> Encoder:
    """`base` joined by the audio paths that `split_audio_suffixes` found, as one CompositeEncoder."""
    if not suffixes:
        return base
    from .composite import CompositeEncoder

    sound = speech = None
    named = []
    for suffix in suffixes:
        kind, _, where = suffix.partition(":")
        if kind == "speech":
            speech = _speech(base, where)
            named.append(f"speech:{Path(where).expanduser().resolve()}" if where else "speech")
        else:
            sound = _audio_tower(base, where)
            named.append(f"audio-tower:{Path(where).expanduser().resolve()}")
    return CompositeEncoder(base, sound, speech, named)


def split_audio_suffixes(name: str) -> tuple[str, list[str]]:
    suffixes = []
    while match := _AUDIO_SUFFIX.match(name):
        name = match["rest"]
        suffixes.insert(0, match["path"])
    kinds = [s.partition(":")[0] for s in suffixes]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"model {name!r}: each audio path (+speech, +audio-tower:DIR) may appear once")
    return name, suffixes


def load_base(name: str, precision: str = "auto") -> Encoder:
    """The encoder a pretrained name (no audio suffixes) stands for."""
    if name in OFFLINE_MODELS or name.startswith(f"{DEFAULT_MODEL}:"):
        from .conse import BridgeSettings, image_tower_of
        from .offline import OfflineEncoder

        tower = OFFLINE_MODELS.get(name) or image_tower_of(name)
        encoder = OfflineEncoder(precision=precision, bridge=BridgeSettings(image_tower=tower))
        if name not in OFFLINE_MODELS and name != encoder.model_id:
            raise ValueError(f"model {name!r} is an older offline bridge than this mmret's {encoder.model_id!r}; "
                             "re-index the collection")
        return encoder
    path = Path(name).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"model {name!r}: is a file, expected a model directory, a hub id or 'offline'")
    from .hf import HFEncoder, model_type

    resolved = str(path.resolve()) if path.is_dir() else name
    if model_type(resolved) == "clap":
        from .clap import ClapEncoder

        return ClapEncoder(resolved)
    return HFEncoder(resolved, precision=precision)


def _speech(base: Encoder, whisper_dir: str) -> Encoder:
    from .speech import SpeechEncoder, Transcriber

    return SpeechEncoder(base, Transcriber(whisper_dir or None))


def _audio_tower(base: Encoder, folder: str) -> Encoder:
    from .audio_tower import load_audio_tower_encoder

    return load_audio_tower_encoder(folder, base)
