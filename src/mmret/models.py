"""Model names -> encoders, for the surfaces (API, CLI, server). The one loader is
`mmret.encoders.loader.load_encoder`; this module registers trained model folders (written by `mmret train`) among
its backends, importing mmret.training (and torch) only when one loads, and checks names before anything loads.

A trained model is identified by the hash of its weights, not by where its folder is: a collection records
"DIR@HASH", and after the folder moves, `--model NEWDIR` is the same model when its weights hash the same.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .encoders.fused import with_fusion
from .encoders.loader import load_encoder
from .encoders.model_id import AUDIO_TOWER, SPEECH, ModelId
from .encoders.offline_heads import claims_shipped, heads_of
from .encoders.registry import (
    DEFAULT_MODEL,
    Backend,
    check_pinned_folder,
    is_offline,
    offline_towers,
    register_backend,
)
from .encoders.text_towers import TEXT_TOWERS
from .errors import BadInput

__all__ = ["DEFAULT_MODEL", "check_model_name", "languages", "load_encoder", "query_paths", "with_fusion"]
WHISPER_LANGUAGES = "English only (Whisper tiny.en, the bundled speech model)"

_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
TRAINED_RECORD = "mmret-model.json"  # mmret.training.saved.RECORD, read here without importing torch


def _is_trained(model: ModelId) -> bool:
    return (Path(model.base).expanduser() / TRAINED_RECORD).is_file()


def _load_trained(model: ModelId, precision: str, device: str = "cpu"):
    # importing it registers the real backend of trained model folders in place of this one
    from .training import saved

    return saved.REGISTERED_BACKEND.load(model, precision, device)


register_backend("trained", Backend(_is_trained, _load_trained))


def check_model_name(name: str) -> None:
    """Raise ValueError when `name` cannot name a model, without loading anything: a missing directory, an audio
    path that is not there, or (offline) a hub id that is not in the local Hugging Face cache."""
    model = ModelId.parse(name)
    for path in model.audio:
        if path.where and not Path(path.where).expanduser().is_dir():
            raise BadInput(f"model {name!r}: {path.kind} directory {path.where!r} does not exist")
    base = model.base
    if model.pin is not None:
        return check_pinned_folder(model.base_id)
    if is_offline(model.base_id) or Path(base).expanduser().is_dir():
        return
    if not _HUB_ID.match(base) or base.startswith("."):
        raise BadInput(f"model {base!r}: no such model directory")
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") and not _in_hub_cache(base):
        raise BadInput(f"model {base!r}: not 'offline', not a model directory, and not in the local Hugging Face "
                       "cache (HF_HUB_OFFLINE is set, so the hub is not asked)")


def query_paths(model_id: str) -> dict[str, list[str]]:
    """What a text, image or audio query can reach in a collection built with `model_id`, read from its audio
    suffixes: without +audio-tower, audio is reached only through speech transcripts."""
    kinds = ModelId.parse(model_id).audio_kinds
    text = ["images, video shots and texts (base model)"]
    text += ["speech transcripts (+speech)"] if SPEECH in kinds else []
    text += ["sound windows (+audio-tower)"] if AUDIO_TOWER in kinds else []
    if AUDIO_TOWER in kinds:
        audio = ["sound windows, and texts in the shared space (+audio-tower)"]
    elif SPEECH in kinds:
        audio = ["speech transcripts only: the query is transcribed, so it matches what is said, not sounds (+speech)"]
    else:
        audio = []
    return {"text": text, "image": ["images and video shots (base model)"], "audio": audio}


def languages(model_id: str) -> dict[str, str]:
    """The languages a text query (and a title) and speech can be in for `model_id`."""
    model = ModelId.parse(model_id)
    speech = next((path for path in model.audio if path.kind == SPEECH), None)
    if speech is None:
        spoken = f"no speech path; +speech would transcribe {WHISPER_LANGUAGES}"
    else:
        spoken = f"those of the Whisper model in {speech.where}" if speech.where else WHISPER_LANGUAGES
    return {"text": _text_languages(model.base_id), "speech": spoken}


def _text_languages(model: ModelId) -> str:
    from .encoders.onnx_encoder import is_onnx_model_dir, read_manifest

    if is_onnx_model_dir(model.base):  # an exported model: those of the model it was exported from
        return _text_languages(ModelId.parse(read_manifest(Path(model.base).expanduser())["source"]))
    if claims_shipped(model):  # the shipped heads: their base's text tower
        return TEXT_TOWERS[heads_of(model).record["base"]["options"].get("text_tower", "minilm")].languages
    if model.pin is not None:  # a trained model: its base's text tower
        from .training.saved import read_record

        try:
            options = read_record(Path(model.base).expanduser())["base"]["options"]
        except (BadInput, KeyError, TypeError):
            return "unknown (the trained model's folder is not readable)"
        return TEXT_TOWERS[options.get("text_tower", "minilm")].languages
    if is_offline(model):
        try:
            return TEXT_TOWERS[offline_towers(model)["text_tower"]].languages
        except BadInput:
            return "unknown (not an offline model of this mmret)"
    return "those the model was trained on (mmret does not know them)"


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
