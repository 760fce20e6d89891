"""Composite encoders: audio paths added to a text(+image) encoder by name, and their model ids loading back."""
import numpy as np
import pytest

from mmret.encoders.audio_tower import AudioTower, AudioTowerEncoder, TowerConfig
from mmret.encoders.composite import CompositeEncoder, audio_paths
from mmret.encoders.offline_heads import load_heads
from mmret.encoders.speech import SpeechEncoder
from mmret.models import load_encoder


@pytest.mark.parametrize("base", ["offline", "offline-bridge"])
def test_offline_plus_speech_loads_by_name_and_by_its_recorded_id(offline_encoder, base):
    encoder = load_encoder(f"{base}+speech")
    base_id = offline_encoder.model_id if base == "offline-bridge" else f"offline@{load_heads().pin}"
    assert encoder.model_id == f"{base_id}+speech"
    assert encoder.modalities == ("text", "image", "audio")
    assert audio_paths(encoder)[1] is encoder.speech and audio_paths(encoder)[0] is None
    again = load_encoder(encoder.model_id)
    assert again.model_id == encoder.model_id
    texts = ["a dog barking", "seven"]
    np.testing.assert_allclose(encoder.encode("text", texts), encoder.base.encode("text", texts), atol=1e-6)
    np.testing.assert_allclose(encoder.encode("text", texts), load_encoder(base).encode("text", texts), atol=1e-6)


def test_audio_routes_to_the_sound_path_when_there_is_one(offline_encoder):
    tower = AudioTowerEncoder(AudioTower(TowerConfig()), offline_encoder)
    speech = SpeechEncoder.__new__(SpeechEncoder)  # never called: the sound path wins for whole clips
    speech.spaces, speech.model_id = dict(tower.spaces), "speech"
    encoder = CompositeEncoder(offline_encoder, sound=tower, speech=speech, suffixes=["audio-tower:x", "speech"])
    from mmret.data.audio import Waveform

    wave = Waveform(np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1, 16_000)
    np.testing.assert_allclose(encoder.encode("audio", [wave]), tower.encode("audio", [wave]), atol=1e-6)
    assert encoder.spaces_for("image") == offline_encoder.spaces_for("image")


def test_paths_must_share_the_base_space(offline_encoder):
    tower = AudioTowerEncoder(AudioTower(TowerConfig(dim=384)), offline_encoder)
    tower.spaces = {"shared": 512}
    with pytest.raises(ValueError, match="512"):
        CompositeEncoder(offline_encoder, sound=tower)
    with pytest.raises(ValueError, match="needs a sound or a speech path"):
        CompositeEncoder(offline_encoder)


def test_unknown_audio_tower_folder_is_a_clear_error(tmp_path):
    with pytest.raises((ValueError, FileNotFoundError), match=str(tmp_path / "nope")):
        load_encoder(f"offline+audio-tower:{tmp_path / 'nope'}")
