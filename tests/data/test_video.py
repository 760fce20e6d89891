"""Video decoding: shots found at the true cuts (not inside zooms), keyframe bounds, probe figures, soundtrack,
and every bad input as a DecodeError naming the file. The videos are written here with PyAV."""
from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")

from mmret.data.decode import DecodeError
from mmret.data.video import (
    VideoSettings,
    iter_shots,
    iter_soundtrack,
    probe_video,
    read_soundtrack,
)

FPS = 12
W, H = 160, 120
CONTAINERS = {"mp4": ("libx264", "aac"), "webm": ("libvpx-vp9", "libopus"), "mkv": ("libx264", "flac")}


def picture(seed: int) -> Image.Image:
    """A photo-like test picture: smooth random colour blobs (320x240, so zooms have detail to show)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((320, 240), Image.BICUBIC)


def zoom(image: Image.Image, n: int, to: float = 1.2, pan: float = 20) -> list[Image.Image]:
    """n frames zooming slowly into the picture while panning sideways."""
    frames = []
    for t in np.linspace(0, 1, n):
        z, dx = 1 + (to - 1) * t, pan * t
        bw, bh = 320 / z, 240 / z
        x0, y0 = (320 - bw) / 2 + dx * (1 - 1 / z), (240 - bh) / 2
        frames.append(image.resize((W, H), Image.BILINEAR, box=(x0, y0, x0 + bw, y0 + bh)))
    return frames


def write(path, frames, fmt="mp4", audio_seconds: float | None = None, rate: int = 24000):
    vcodec, acodec = CONTAINERS[fmt]
    with av.open(str(path), "w", format="matroska" if fmt == "mkv" else None) as out:
        video = out.add_stream(vcodec, rate=FPS, options={"preset": "ultrafast", "deadline": "realtime",
                                                          "cpu-used": "8"})
        video.width, video.height, video.pix_fmt = W, H, "yuv420p"
        audio = out.add_stream(acodec, rate=rate, layout="mono") if audio_seconds else None
        for image in frames:
            out.mux(video.encode(av.VideoFrame.from_image(image)))
        out.mux(video.encode())
        if audio:
            t = np.arange(round(audio_seconds * rate)) / rate
            frame = av.AudioFrame.from_ndarray((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None],
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, 0
            out.mux(audio.encode(frame))
            out.mux(audio.encode())
    return path


def three_shots():
    """A zoom on one picture (2 s), a pan on another (2 s), a zoom on a third (1 s): cuts at 2 s and 4 s."""
    frames = zoom(picture(1), 24) + zoom(picture(2), 24, to=1.1, pan=-40) + zoom(picture(3), 12, to=1.3)
    return frames, [0.0, 2.0, 4.0], 5.0


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    frames, _, _ = three_shots()
    return {fmt: write(folder / f"three.{fmt}", frames, fmt, audio_seconds=5.0) for fmt in CONTAINERS}


@pytest.mark.parametrize("fmt", list(CONTAINERS))
def test_cuts_are_found_and_zooms_are_not_cut(videos, fmt):
    _, starts, duration = three_shots()
    shots = list(iter_shots(videos[fmt]))
    assert [s.index for s in shots] == [0, 1, 2]
    assert np.allclose([s.start for s in shots], starts, atol=1 / FPS + 1e-6)
    assert shots[0].start == 0.0
    assert all(a.end == b.start for a, b in pairwise(shots))
    assert shots[-1].end == pytest.approx(duration, abs=1 / FPS)
    assert shots[-1].end == pytest.approx(probe_video(videos[fmt]).duration, abs=1 / FPS)


def test_keyframes_are_bounded_evenly_spread_and_small(videos):
    settings = VideoSettings(keyframe_every=1 / FPS, max_keyframes=5, frame_side=64)
    for shot in iter_shots(videos["mp4"], settings):
        assert 1 <= len(shot.frames) == len(shot.times) <= settings.max_keyframes
        assert shot.times[0] == pytest.approx(max(shot.start, 0.0), abs=1e-6)  # the shot's first frame
        assert all(shot.start <= t < shot.end for t in shot.times)
        assert len(set(np.round(np.diff(shot.times) * FPS).astype(int))) == 1  # equal gaps
        for image in shot.frames:
            assert image.mode == "RGB" and min(image.size) <= 64
            assert image.size == (round(W * 64 / H), 64)


def test_default_keyframes_keep_size_of_small_video(videos):
    shots = list(iter_shots(videos["webm"]))
    assert [len(s.frames) for s in shots] == [1, 1, 1]  # 2 s shots, one keyframe every 2 s
    assert shots[0].frames[0].size == (W, H)  # shorter side 120 <= 256: not scaled


def test_a_shot_shorter_than_min_shot_joins_the_previous_one(tmp_path):
    frames = zoom(picture(1), 24) + zoom(picture(2), 3) + zoom(picture(3), 24)  # 0.25 s middle shot
    path = write(tmp_path / "short.mp4", frames)
    merged = list(iter_shots(path, VideoSettings(min_shot=0.5)))
    assert [round(s.start * FPS) for s in merged] == [0, 27]
    assert merged[0].end == merged[1].start
    kept = list(iter_shots(path, VideoSettings(min_shot=0.1)))
    assert [round(s.start * FPS) for s in kept] == [0, 24, 27]


def test_probe_video_figures(videos):
    info = probe_video(videos["mkv"])
    assert (info.width, info.height, info.codec, info.has_audio) == (W, H, "h264", True)
    assert info.fps == pytest.approx(FPS)
    assert info.duration == pytest.approx(5.0, abs=1 / FPS)
    assert probe_video(videos["webm"]).codec == "vp9"


def test_soundtrack_duration_and_none_without_audio(videos, tmp_path):
    wave = read_soundtrack(videos["mkv"])  # FLAC: lossless, the rate as written
    assert wave.rate == 24000 and wave.samples.dtype == np.float32 and wave.samples.ndim == 1
    assert wave.seconds == pytest.approx(5.0, abs=0.05)
    assert np.sqrt(np.mean(wave.samples ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)
    assert read_soundtrack(videos["mp4"]).seconds == pytest.approx(5.0, abs=0.1)  # AAC pads a little
    low = read_soundtrack(videos["mkv"], rate=16_000)  # resampled while decoding
    assert low.rate == 16_000 and low.seconds == pytest.approx(5.0, abs=0.05)
    peak_hz = np.argmax(np.abs(np.fft.rfft(low.samples))) / low.seconds
    native_peak_hz = np.argmax(np.abs(np.fft.rfft(wave.samples))) / wave.seconds
    assert peak_hz == pytest.approx(native_peak_hz, abs=2)
    assert np.sqrt(np.mean(low.samples ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.05)
    pieces = list(iter_soundtrack(videos["mkv"], 16_000, piece_seconds=2.0))  # streamed in timed pieces
    assert [p.start for p in pieces] == [0.0, 2.0, 4.0] and [p.seconds for p in pieces[:2]] == [2.0, 2.0]
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces]), low.samples)
    silent = write(tmp_path / "silent.mp4", zoom(picture(4), 6))
    assert read_soundtrack(silent) is None and list(iter_soundtrack(silent)) == []
    assert probe_video(silent).has_audio is False


def _bad_files(folder, good):
    import soundfile

    (folder / "empty.mp4").write_bytes(b"")
    picture(5).save(folder / "photo.jpg")
    (folder / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    soundfile.write(folder / "sound.flac", np.zeros(8000, np.float32), 8000)
    data = good.read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: lost
    (folder / "huge.y4m").write_bytes(b"YUV4MPEG2 W9000 H8000 F12:1 C420jpeg\nFRAME\n" + bytes(1000))
    return {
        "missing.mp4": "cannot read", "empty.mp4": "empty file", "photo.jpg": "not a video (a still image",
        "noise.mp4": "not a video (unrecognised format", "sound.flac": "no video stream",
        "cut.mp4": "truncated or corrupt video", "huge.y4m": "frame too large (9000x8000",
    }


def test_each_bad_input_is_a_decode_error_naming_file_and_reason(videos, tmp_path):
    for name, reason in _bad_files(tmp_path, videos["mp4"]).items():
        path = tmp_path / name
        for call in (probe_video, lambda p: list(iter_shots(p))):
            with pytest.raises(DecodeError) as error:
                call(path)
            assert error.value.where == str(path) and error.value.reason.startswith(reason), (name, error.value)
            assert str(path) in str(error.value)
    assert read_soundtrack(tmp_path / "sound.flac").seconds == pytest.approx(1.0)  # audio-only: its sound


def test_too_long_video_is_refused(videos):
    with pytest.raises(DecodeError, match="longer than 3 s") as error:
        next(iter_shots(videos["mp4"], VideoSettings(max_seconds=3)))
    assert error.value.where == str(videos["mp4"])


@pytest.mark.parametrize("fmt", ["mkv", "webm"])
def test_truncated_matroska_yields_decoded_shots_then_raises(videos, tmp_path, fmt):
    data = videos[fmt].read_bytes()
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(data[: int(len(data) * 0.6)])
    shots = []
    with pytest.raises(DecodeError, match="truncated") as error:
        for shot in iter_shots(path):
            shots.append(shot)  # noqa: PERF402 (the shots before the error are the point)
    assert error.value.where == str(path)
    assert shots and shots[0].start == 0.0 and shots[0].end == pytest.approx(2.0, abs=1 / FPS)
    assert all(a.end == b.start for a, b in pairwise(shots))
    assert shots[-1].end < 5.0 - 1 / FPS
