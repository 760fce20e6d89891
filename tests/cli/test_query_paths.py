"""Which paths a model has for a query (issue 10, defect 7): with `+speech` and no sound tower, an audio query or a
text query meant for sounds reaches only Whisper transcripts, and the CLI says so before searching."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mmret.encoders.base import SHARED
from mmret.index.collection import VectorCollection
from mmret.index.store import Record

from .conftest import ModelLoaded

SPEECH_ONLY = "offline:test+speech"


@pytest.fixture
def speech_collection(tmp_path):
    path = tmp_path / "media"
    with VectorCollection.create(path, SPEECH_ONLY, {SHARED: 4}) as store:
        said = Record("/clips/a.wav#speech@0", "text", text="Nice.", metadata={
            "segment": "speech", "segment_of": "/clips/a.wav", "start": 0.0, "end": 1.0})
        store.upsert([said], {SHARED: np.eye(4, dtype=np.float32)[:1]})
    return path


def test_an_audio_query_on_a_speech_only_model_warns_before_searching(run, no_model_loads, speech_collection,
                                                                      tmp_path, capsys):
    clip = tmp_path / "bark.wav"
    clip.write_bytes(b"")
    with pytest.raises(ModelLoaded):  # the warning comes first, before the model is needed
        run("search", "--collection", speech_collection, "--audio", clip)
    assert "warning" in capsys.readouterr().err


def test_both_warnings_name_the_transcripts_and_the_sound_tower(speech_collection, tmp_path, capsys):
    from mmret.cli.search import _transcript_only_warnings

    with VectorCollection.open(speech_collection) as store:
        warnings = _transcript_only_warnings(store, {"audio": str(tmp_path / "bark.wav"), "text": "a dog barking"})
    assert len(warnings) == 2
    assert "transcribed" in warnings[0] and "not how it sounds" in warnings[0]
    assert all("audio-tower" in w and "mmret train-audio" in w for w in warnings)


def test_info_lists_what_each_query_reaches(run, speech_collection):
    code, out, _ = run("info", "--collection", speech_collection)
    reaches = json.loads(out)["a query reaches"]
    assert code == 0 and "speech transcripts only" in reaches["audio"][0]
    assert any("speech transcripts" in p for p in reaches["text"])
    assert not any("sound" in p for p in reaches["text"])
