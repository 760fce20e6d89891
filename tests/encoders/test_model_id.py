"""The model-name grammar: every form parses into its parts and formats back to the same text, a trained model is
the same model wherever its folder is, and a malformed name is refused naming the part at fault."""
from __future__ import annotations

import re

import pytest

from mmret.encoders.model_id import AUDIO_TOWER, SPEECH, AudioPath, ModelId

OFFLINE_ID = "offline:minilm-l6+effnet-lite0-conse-v1/k50-t0.05-soft-c0.875-p1a2b3c4d"  # holds a "+" of its own
PIN = "4d1bd918daf2"


@pytest.mark.parametrize(("text", "expected"), [
    ("offline", ModelId("offline")),
    ("openai/clip-vit-base-patch32", ModelId("openai/clip-vit-base-patch32")),
    (OFFLINE_ID, ModelId(OFFLINE_ID)),
    (f"/runs/m@{PIN}", ModelId("/runs/m", PIN)),
    ("offline+speech", ModelId("offline", audio=(AudioPath(SPEECH),))),
    ("openai/clip+speech:/w", ModelId("openai/clip", audio=(AudioPath(SPEECH, "/w"),))),
    (f"{OFFLINE_ID}+speech+audio-tower:/a/b",
     ModelId(OFFLINE_ID, audio=(AudioPath(SPEECH), AudioPath(AUDIO_TOWER, "/a/b")))),
    ("offline+audio-tower:/t+speech", ModelId("offline", audio=(AudioPath(AUDIO_TOWER, "/t"), AudioPath(SPEECH)))),
    ("offline+fusion:mean", ModelId("offline", fusion="mean")),
    (f"/runs/m@{PIN}+speech:/w+audio-tower:/t+fusion:attention",
     ModelId("/runs/m", PIN, (AudioPath(SPEECH, "/w"), AudioPath(AUDIO_TOWER, "/t")), "attention")),
    ("/runs/a+b/model+speech", ModelId("/runs/a+b/model", audio=(AudioPath(SPEECH),))),
    ("/runs/m@not-a-pin", ModelId("/runs/m@not-a-pin")),
])
def test_every_form_parses_into_its_parts_and_formats_back(text, expected):
    parsed = ModelId.parse(text)
    assert parsed == expected
    assert str(parsed) == text


def test_the_base_id_is_the_model_a_backend_loads():
    model = ModelId.parse(f"/runs/m@{PIN}+speech+fusion:mean")
    assert str(model.base_id) == f"/runs/m@{PIN}" and model.audio_kinds == {SPEECH}
    assert str(model.base_id.with_audio(AudioPath(AUDIO_TOWER, "/t")).with_fusion("mean")) == \
        f"/runs/m@{PIN}+audio-tower:/t+fusion:mean"
    assert str(model.with_fusion(None)) == f"/runs/m@{PIN}+speech"


def test_a_trained_model_is_identified_by_its_weights_pin_not_its_folder():
    def same(a: str, b: str) -> bool:
        return ModelId.parse(a).same_weights(ModelId.parse(b))

    assert same(f"/old/place/model@{PIN}", f"/new/place/model@{PIN}")
    assert same(f"/a/m@{PIN}+speech", f"/b/m@{PIN}+speech")
    assert same("offline+speech", "offline+speech")
    assert not same(f"/a/m@{PIN}", "/a/m@000000000000")
    assert not same(f"/a/m@{PIN}+speech", f"/b/m@{PIN}")
    assert not same(f"/a/m@{PIN}+fusion:mean", f"/b/m@{PIN}+fusion:attention")
    assert not same("/a/m", "/b/m")  # folders without a pin: only the same folder
    assert not same("offline:abc", "offline:abd")


@pytest.mark.parametrize(("text", "fault"), [
    ("", "empty name"),
    ("+speech", "no base model"),
    ("offline+fusion:mean+speech", r"'\+fusion:mean' must come last"),
    ("offline+speech+speech", "each audio path .* once"),
    ("offline+audio-tower", r"'\+audio-tower' names no folder"),
    ("offline+audio-tower:", r"'\+audio-tower:' names no folder"),
    ("offline+speech:", r"'\+speech:' names no folder"),
    ("offline+fusion", r"'\+fusion:' names no fusion"),
])
def test_a_malformed_name_is_refused_naming_the_bad_part(text, fault):
    with pytest.raises(ValueError, match=re.escape(f"model {text!r}: ") + fault):
        ModelId.parse(text)


def test_a_pin_must_be_twelve_hex_digits():
    with pytest.raises(ValueError, match="'@4D1B': a weights pin is 12 lowercase hex digits"):
        ModelId("/runs/m", "4D1B")
