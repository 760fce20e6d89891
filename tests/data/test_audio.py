"""Audio decoding: formats, down-mix, polyphase resampling, windows, silence and bad files."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
av = pytest.importorskip("av")

from mmret.data.audio import (
    Waveform,
    is_silent,
    iter_audio,
    open_audio,
    read_audio,
    resample,
    windows,
)
from mmret.data.decode import DecodeError
from mmret.data.items import Item
from mmret.data.loader import prepare_batch


def tone(freq: float, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave * (c + 1) / channels for c in range(channels)], axis=1) if channels > 1 else wave


def peak_hz(wave: Waveform) -> float:
    spectrum = np.abs(np.fft.rfft(wave.samples))
    return float(np.argmax(spectrum) * wave.rate / len(wave.samples))


def soundfile_bytes(frames: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, frames, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def av_bytes(frames: np.ndarray, rate: int, container: str, codec: str) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(frames[None, :].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", None), ("OGG", "VORBIS")])
def test_soundfile_formats_keep_pitch_and_length(fmt, subtype):
    data = soundfile_bytes(tone(440, 22050, 1.0), 22050, fmt, subtype)
    wave = open_audio(data, f"tone.{fmt.lower()}")
    assert wave.rate == 22050 and wave.samples.dtype == np.float32
    assert abs(wave.seconds - 1.0) < 0.01
    assert abs(peak_hz(wave) - 440) <= 2


@pytest.mark.parametrize("container,codec", [("mp3", "libmp3lame"), ("mp4", "aac")])
def test_compressed_formats_decode_through_pyav(container, codec):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {codec} encoder")
    wave = open_audio(av_bytes(tone(1000, 44100, 1.0), 44100, container, codec), f"tone.{container}")
    assert wave.rate == 44100
    assert 0.95 < wave.seconds < 1.2  # encoders add priming/padding samples
    assert abs(peak_hz(wave) - 1000) <= 3


def test_stereo_is_mixed_to_the_channel_mean():
    stereo = tone(300, 16000, 0.5, channels=2)
    wave = open_audio(soundfile_bytes(stereo, 16000, "WAV", "FLOAT"), "stereo.wav")
    np.testing.assert_allclose(wave.samples, stereo.mean(axis=1), atol=1e-6)


def test_resampling_is_band_limited():
    wave = Waveform(tone(1000, 44100, 1.0) + tone(15000, 44100, 1.0), 44100)
    down = resample(wave, 16000)
    assert len(down.samples) == 16000 and down.rate == 16000
    assert abs(peak_hz(down) - 1000) <= 2
    # 15 kHz lies above the new Nyquist (8 kHz): a polyphase filter removes it instead of folding it to 1 kHz
    spectrum = np.abs(np.fft.rfft(down.samples))
    assert spectrum[900:1100].max() > 0.9 * spectrum.max()
    assert spectrum[:800].max() < 0.01 * spectrum.max()
    assert spectrum[1200:].max() < 0.01 * spectrum.max()


def test_windows_cover_the_clip_with_times():
    wave = Waveform(np.arange(25_000, dtype=np.float32), 10_000, start=3.0)
    parts = windows(wave, 1.0)
    assert [(p.start, round(p.end, 6)) for p in parts] == [(3.0, 4.0), (4.0, 5.0), (5.0, 5.5)]
    np.testing.assert_array_equal(np.concatenate([p.samples for p in parts]), wave.samples)
    overlapping = windows(wave, 1.0, hop=0.5)
    assert [p.start for p in overlapping] == [3.0, 3.5, 4.0, 4.5]  # 4.5 already reaches the end
    assert round(overlapping[-1].end, 6) == 5.5
    assert len(windows(Waveform(np.ones(10, np.float32), 10_000), 1.0)) == 1


def test_silence_decodes_and_is_flagged():
    silent = open_audio(soundfile_bytes(np.zeros(8000, np.float32), 8000, "WAV"), "silence.wav")
    assert silent.seconds == 1.0 and is_silent(silent)
    assert not is_silent(Waveform(tone(440, 8000, 1.0), 8000))


@pytest.mark.parametrize("data,reason", [
    (b"RIFF\x00\x00\x00\x00WAVEgarbage", "not a readable audio file"),
    (b"\x00" * 1000, "not a readable audio file"),
])
def test_corrupt_bytes_raise_decode_error(data, reason):
    with pytest.raises(DecodeError) as e:
        open_audio(data, "bad.wav")
    assert e.value.where == "bad.wav" and reason in e.value.reason


def test_header_without_samples_and_empty_file(tmp_path: Path):
    with pytest.raises(DecodeError, match="no audio samples"):
        open_audio(soundfile_bytes(np.zeros(0, np.float32), 8000, "WAV"), "empty.wav")
    (tmp_path / "zero.flac").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file"):
        read_audio(tmp_path / "zero.flac")


def test_loader_reports_bad_audio_and_keeps_good(tmp_path: Path):
    good = tmp_path / "good.flac"
    good.write_bytes(soundfile_bytes(tone(440, 8000, 0.5), 8000, "FLAC"))
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + b"\xff" * 50)
    items = [Item(str(p), "audio", path=str(p)) for p in (good, bad)]
    batch = prepare_batch(items, lambda w: w.seconds)
    assert batch.prepared == [0.5]
    assert [(i.path, "audio" in r or "readable" in r) for i, r in batch.failures] == [(str(bad), True)]


def test_real_clips_match_soundfile_and_resample(data_dir: Path):
    esc = sorted((data_dir / "esc50").rglob("*.flac"))[:1]
    digit = sorted((data_dir / "fsdd" / "recordings").glob("7_*.wav"))[:1]
    if not esc or not digit:
        pytest.skip("esc50/fsdd clips not found")
    wave = read_audio(esc[0])
    reference, rate = soundfile.read(esc[0], dtype="float32")
    assert wave.rate == rate == 44100
    np.testing.assert_array_equal(wave.samples, reference if reference.ndim == 1 else reference.mean(1))
    spoken = read_audio(digit[0], rate=16000)
    native = read_audio(digit[0])
    assert native.rate == 8000 and spoken.rate == 16000
    assert len(spoken.samples) == 2 * len(native.samples)


def test_missing_optional_decoder_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "soundfile", None)
    with pytest.raises(ImportError, match=r"mmret\[audio\]"):
        open_audio(b"RIFF", "a.wav")


@pytest.mark.parametrize("name,data", [
    ("long.flac", lambda f: soundfile_bytes(f, 16_000, "FLAC")),
    ("long.m4a", lambda f: av_bytes(f, 16_000, "mp4", "aac")),
])
def test_iter_audio_streams_timed_pieces_equal_to_the_whole(tmp_path: Path, name, data):
    path = tmp_path / name
    path.write_bytes(data(tone(440, 16_000, 5.0)))
    pieces = list(iter_audio(path, rate=16_000, piece_seconds=2.0))
    assert [p.start for p in pieces] == [0.0, 2.0, 4.0] and all(p.rate == 16_000 for p in pieces)
    whole = read_audio(path, 16_000).samples
    streamed = np.concatenate([p.samples for p in pieces])
    assert len(streamed) == len(whole)
    if name.endswith(".flac"):  # lossless and at its own rate: the same samples exactly
        np.testing.assert_array_equal(streamed, whole)
    assert all(abs(peak_hz(p) - 440) < 2 for p in pieces)


def test_iter_audio_errors_name_the_file(tmp_path: Path):
    empty, junk = tmp_path / "empty.wav", tmp_path / "junk.mp3"
    empty.write_bytes(b"")
    junk.write_bytes(b"\x00\x01not audio" * 50)
    for path, reason in ((empty, "empty file"), (junk, "not a readable audio file"),
                         (tmp_path / "gone.wav", "cannot read")):
        with pytest.raises(DecodeError, match=reason) as error:
            list(iter_audio(path))
        assert error.value.where == str(path)
