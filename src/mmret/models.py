"""Model names -> encoders, for the surfaces (API, CLI, server): a directory written by `mmret train` loads its
trained model (training/), any other name goes to the pretrained registry (encoders/registry.py); either can be
followed by audio paths ("+speech", "+audio-tower:DIR"), and then by a fusion of multimodal items ("+fusion:NAME",
see `with_fusion`). It sits above both layers so neither imports the other.

A trained model is identified by the hash of its weights, not by where its folder is: a collection records
"DIR@HASH", and after the folder moves, `--model NEWDIR` is the same model when its weights hash the same.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .encoders.base import Encoder
from .encoders.fused import split_fusion_suffix, with_fusion
from .encoders.registry import (
    DEFAULT_MODEL,
    HASHED_MODEL_ID,
    OFFLINE_MODELS,
    load_base,
    split_audio_suffixes,
    with_audio_paths,
)

__all__ = ["DEFAULT_MODEL", "audio_path_kinds", "check_model_name", "load_encoder", "query_paths", "same_model",
           "with_fusion"]

_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def load_encoder(name: str = DEFAULT_MODEL, precision: str = "auto") -> Encoder:
    """An encoder by name: "offline", a trained model directory (or the "DIR@HASH" id a collection records), a
    hub id or a pretrained model directory, optionally followed by audio paths."""
    name, fusion = split_fusion_suffix(name)
    base_name, suffixes = split_audio_suffixes(name)
    encoder = with_audio_paths(_load_base(base_name, precision), suffixes)
    return encoder if fusion is None else with_fusion(encoder, fusion)


def check_model_name(name: str) -> None:
    """Raise ValueError when `name` cannot name a model, without loading anything: a missing directory, an audio
    path that is not there, or (offline) a hub id that is not in the local Hugging Face cache."""
    base, suffixes = split_audio_suffixes(split_fusion_suffix(name)[0])
    for suffix in suffixes:
        kind, _, where = suffix.partition(":")
        if where and not Path(where).expanduser().is_dir():
            raise ValueError(f"model {name!r}: {kind} directory {where!r} does not exist")
    if base in OFFLINE_MODELS or base.startswith(f"{DEFAULT_MODEL}:") or Path(base).expanduser().is_dir():
        return
    hashed = HASHED_MODEL_ID.match(base)
    if hashed:
        return _check_moved(hashed["path"], hashed["hash"])
    if not _HUB_ID.match(base) or base.startswith("."):
        raise ValueError(f"model {base!r}: no such model directory")
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") and not _in_hub_cache(base):
        raise ValueError(f"model {base!r}: not 'offline', not a model directory, and not in the local Hugging Face "
                         "cache (HF_HUB_OFFLINE is set, so the hub is not asked)")


def same_model(recorded: str, given: str) -> bool:
    """Whether two model ids name the same model: equal, or the same trained weights (hash) in another folder."""
    if recorded == given:
        return True
    (recorded, recorded_fusion), (given, given_fusion) = split_fusion_suffix(recorded), split_fusion_suffix(given)
    if recorded_fusion != given_fusion:
        return False
    (recorded_base, recorded_audio), (given_base, given_audio) = map(split_audio_suffixes, (recorded, given))
    a, b = HASHED_MODEL_ID.match(recorded_base), HASHED_MODEL_ID.match(given_base)
    return recorded_audio == given_audio and bool(a and b) and a["hash"] == b["hash"]


def audio_path_kinds(model_id: str) -> set[str]:
    """The audio paths a model id names: a subset of {"speech", "audio-tower"}."""
    return {suffix.partition(":")[0] for suffix in split_audio_suffixes(split_fusion_suffix(model_id)[0])[1]}


def query_paths(model_id: str) -> dict[str, list[str]]:
    """What a text, image or audio query can reach in a collection built with `model_id`, read from its audio
    suffixes: without +audio-tower, audio is reached only through speech transcripts."""
    kinds = audio_path_kinds(model_id)
    text = ["images, video shots and texts (base model)"]
    text += ["speech transcripts (+speech)"] if "speech" in kinds else []
    text += ["sound windows (+audio-tower)"] if "audio-tower" in kinds else []
    if "audio-tower" in kinds:
        audio = ["sound windows, and texts in the shared space (+audio-tower)"]
    elif "speech" in kinds:
        audio = ["speech transcripts only: the query is transcribed, so it matches what is said, not sounds (+speech)"]
    else:
        audio = []
    return {"text": text, "image": ["images and video shots (base model)"], "audio": audio}


def _load_base(name: str, precision: str) -> Encoder:
    if name not in OFFLINE_MODELS:
        from .training.saved import TrainedEncoder, is_trained_model_dir

        if is_trained_model_dir(name):
            return TrainedEncoder(name, None if precision == "auto" else precision)
        hashed = HASHED_MODEL_ID.match(name)
        if hashed:
            _check_moved(hashed["path"], hashed["hash"])
    return load_base(name, precision)


def _check_moved(directory: str, digest: str) -> None:
    if not Path(directory).expanduser().is_dir():
        raise ValueError(f"trained model {directory} (weights {digest}) is not there any more; if it moved, "
                         f"pass --model NEWDIR (its weights must hash to {digest})")


def _in_hub_cache(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
