"""`mmret info` says which languages a collection's text tower takes and that speech (Whisper tiny.en) is English
only, read from the recorded model id without loading the model."""
from __future__ import annotations

import json

import pytest

from mmret.encoders.base import SHARED
from mmret.encoders.conse import BridgeSettings
from mmret.index.collection import VectorCollection


def _collection(path, model_id: str, dim: int):
    VectorCollection.create(path, model_id, {SHARED: dim}).close()
    return path


@pytest.mark.parametrize(("tower", "says"), [("minilm", "English"), ("usem3", "Chinese (simplified"), ("e5", "Chinese and English")])
def test_info_names_the_text_towers_languages(run, no_model_loads, tmp_path, tower, says):
    model_id = BridgeSettings(text_tower=tower).model_id() + "+speech"
    code, out, _ = run("info", "--collection", _collection(tmp_path / tower, model_id, 4))
    languages = json.loads(out)["languages"]
    assert code == 0 and says in languages["text"]
    assert "English only" in languages["speech"] and "tiny.en" in languages["speech"]


def test_info_on_a_model_without_speech_says_what_speech_would_take(run, no_model_loads, tmp_path):
    code, out, _ = run("info", "--collection", _collection(tmp_path / "c", "offline-m3", 4))
    languages = json.loads(out)["languages"]
    assert code == 0 and languages["speech"].startswith("no speech path") and "English only" in languages["speech"]


def test_info_on_a_hub_model_does_not_guess(run, no_model_loads, tmp_path):
    code, out, _ = run("info", "--collection", _collection(tmp_path / "c", "openai/clip-vit-base-patch32", 4))
    assert code == 0 and "does not know" in json.loads(out)["languages"]["text"]
