"""Streamed video decoding with PyAV (FFmpeg): probe a file, cut it into shots with keyframes, read its sound.

Frames are decoded one at a time and dropped: memory holds the keyframes of the open shots (the current one,
and the previous one while a cut is less than `min_shot` old) plus one small analysis frame, whatever the
video's length. A shot starts where the difference between consecutive frames (colour histograms and a tiny
grey thumbnail) jumps above `cut_threshold`: hard cuts, not the slow motion of a zoom or pan.
Every bad input raises DecodeError naming the file and the reason. Needs `pip install 'mmret[video]'`.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MissingPackage
from .audio import Waveform, av_soundtrack
from .decode import DecodeError, check_picture_size

INSTALL_HINT = "pip install 'mmret[video]'"
THUMB = (32, 18)  # analysis frame (w, h): enough for colour and layout, cheap to compare
BINS = 8  # histogram bins per channel
CONTAINER_MAGIC = (b"ftyp", b"\x1a\x45\xdf\xa3", b"RIFF", b"OggS", b"FLV")


@dataclass(frozen=True)
class VideoSettings:
    keyframe_every: float = 2.0  # seconds between keyframes inside a shot (its first frame is always one)
    cut_threshold: float = 0.3  # frame-difference score (0..1) above which a new shot starts (see difference)
    min_shot: float = 0.5  # seconds; a shorter shot is merged into the previous one
    max_keyframes: int = 8  # per shot; more are thinned to an evenly spread subset
    frame_side: int = 256  # keyframes are scaled so the shorter side is at most this
    max_seconds: float = 4 * 3600  # a longer video is refused
    max_frames: int = 4 * 3600 * 60  # and one with more frames (declared, or decoded), whatever its duration


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    fps: float
    width: int
    height: int
    codec: str
    has_audio: bool


@dataclass(frozen=True)
class Shot:
    index: int  # 0, 1, 2 ... in time order
    start: float  # seconds
    end: float  # seconds: the next shot's start, or where the video's frames end
    frames: list  # RGB PIL images, at least one
    times: list[float]  # the keyframes' times in seconds


@dataclass
class _Open:
    """A shot being collected. Keyframes are sampled every `step` s; past max_keyframes every other one is
    dropped and the step doubled, so they stay evenly spread in bounded memory."""

    start: float
    step: float
    frames: list = field(default_factory=list)
    times: list = field(default_factory=list)

    def offer(self, frame, t: float, settings: VideoSettings) -> None:
        if self.times and t < self.times[-1] + self.step - 1e-6:
            return
        self.frames.append(_keyframe(frame, settings.frame_side))
        self.times.append(t)
        self._thin(settings.max_keyframes)

    def absorb(self, other: _Open, settings: VideoSettings) -> None:
        self.frames += other.frames
        self.times += other.times
        self._thin(settings.max_keyframes)

    def _thin(self, most: int) -> None:
        while len(self.frames) > most:
            self.frames, self.times, self.step = self.frames[::2], self.times[::2], self.step * 2

    def close(self, index: int, end: float) -> Shot:
        return Shot(index, self.start, end, self.frames, self.times)


def _require_av():
    try:
        import av
    except ImportError as e:
        raise MissingPackage(f"video decoding needs PyAV: {INSTALL_HINT}") from e
    return av


def _open(path):
    """An open container, after the checks that need no decoding."""
    av, where = _require_av(), str(path)
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise DecodeError(where, f"cannot read: {e.strerror or e}") from e
    if size == 0:
        raise DecodeError(where, "empty file")
    try:
        container = av.open(where)
    except (av.error.FFmpegError, ValueError, OSError) as e:
        looks = any(m in head for m in CONTAINER_MAGIC)
        reason = "truncated or corrupt video" if looks else "not a video (unrecognised format)"
        raise DecodeError(where, f"{reason} ({getattr(e, 'strerror', None) or e})") from e
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        container.close()
        raise DecodeError(where, f"not a video (a still image, format {container.format.name})")
    return container


def _video_stream(container, where: str, settings: VideoSettings):
    if not container.streams.video:  # a cut MP4 that lost its index (moov) shows only an unreadable stream
        reason = "no video stream" if container.streams.audio else "truncated or corrupt video (no readable stream)"
        raise DecodeError(where, reason)
    stream = container.streams.video[0]
    if stream.codec_context is None:  # FFmpeg found the stream but has no decoder for what it declares
        raise DecodeError(where, "truncated or corrupt video (undecodable stream)")
    check_picture_size(stream.codec_context.width, stream.codec_context.height, where, what="frame")
    if stream.frames > settings.max_frames:
        raise DecodeError(where, f"too many frames ({stream.frames} > {settings.max_frames})")
    duration, _ = _duration(container, stream)
    if duration > settings.max_seconds:
        raise DecodeError(where, f"video longer than {settings.max_seconds:g} s ({duration:.0f} s)")
    return stream


def _duration(container, stream) -> tuple[float, bool]:
    """The video stream's duration in seconds and whether the stream itself declared it (else the file's)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base), True
    tag = stream.metadata.get("DURATION")  # Matroska keeps per-track durations as tags, "HH:MM:SS.fffffffff"
    try:
        h, m, s = tag.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s), True
    except (AttributeError, ValueError):  # no tag, or not in that form
        pass
    return (container.duration or 0) / 1_000_000, False


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path) -> VideoInfo:
    """Duration, frame rate, size, codec and whether there is sound, from the headers (nothing decoded)."""
    with _open(path) as container:
        stream = _video_stream(container, str(path), VideoSettings(max_seconds=math.inf))
        ctx = stream.codec_context
        return VideoInfo(_duration(container, stream)[0], _fps(stream), ctx.width, ctx.height, ctx.name,
                         bool(container.streams.audio))


def _signature(frame) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel colour histograms (normalised) and a grey thumbnail in [0, 1] of a small copy of the frame."""
    rgb = frame.reformat(width=THUMB[0], height=THUMB[1], format="rgb24", interpolation="AREA").to_ndarray()
    hist = np.stack([np.bincount(rgb[..., c].ravel() // (256 // BINS), minlength=BINS) for c in range(3)])
    return hist / (THUMB[0] * THUMB[1]), rgb.mean(-1, dtype=np.float32) / 255


def difference(a, b) -> float:
    """0..1 between two signatures: the mean of the colour-histogram distance (half the L1, averaged over
    channels) and the layout distance (mean absolute grey difference, saturating at 0.25). A zoom or pan moves
    a few pixels per frame and keeps the colours; a cut to another picture changes both."""
    hist = 0.5 * float(np.abs(a[0] - b[0]).sum()) / 3
    layout = min(1.0, float(np.abs(a[1] - b[1]).mean()) / 0.25)
    return 0.5 * hist + 0.5 * layout


def _keyframe(frame, side: int):
    w, h = frame.width, frame.height
    scale = min(1.0, side / min(w, h))
    return frame.to_image(width=max(1, round(w * scale)), height=max(1, round(h * scale)))


class _Frames:
    """The video stream's (frame, time) pairs in order. Afterwards `end` is where the frames end, and `error`
    the DecodeError that stopped them early, if any (so the shots before the damage can still be given)."""

    def __init__(self, container, stream, where: str, settings: VideoSettings):
        self.container, self.stream, self.where, self.settings = container, stream, where, settings
        self.fps = _fps(stream) or 25.0
        self.origin = max(0.0, (container.start_time or 0) / 1_000_000)  # MPEG-TS starts at ~1.4 s, not 0
        self.end, self.error = 0.0, None

    def __iter__(self):
        av = _require_av()
        self.stream.thread_type = "AUTO"
        try:
            for count, frame in enumerate(self.container.decode(self.stream), start=1):
                if count > self.settings.max_frames:
                    raise DecodeError(self.where, f"too many frames (more than {self.settings.max_frames})")
                if frame.pts is None:
                    continue
                t = float(frame.pts * frame.time_base) - self.origin
                if t > self.settings.max_seconds:
                    raise DecodeError(self.where, f"video longer than {self.settings.max_seconds:g} s")
                yield frame, t
                self.end = t + (float(frame.duration * frame.time_base) if frame.duration else 1 / self.fps)
        except DecodeError as e:
            self.error = e
        except (av.error.FFmpegError, ValueError, OSError) as e:
            self.error = DecodeError(self.where, f"truncated or corrupt video data: {e}")


def iter_shots(path, settings: VideoSettings = VideoSettings()) -> Iterator[Shot]:
    """The video's shots in time order, tiling [0, end of the last decoded frame]; times are counted from
    the file's start (frame pts * time_base, less the container's start time).

    A truncated or damaged file yields the shots decoded before the damage (the last one ending where the
    frames end) and then raises DecodeError: `list(iter_shots(p))` fails, a loop keeps the partial shots.
    Truncation that FFmpeg reads as a clean end (Matroska/WebM) is found by comparing the decoded length
    with the declared one (a shortfall of up to two frames, or 1 s when only the file declares one, passes)."""
    where = str(path)
    with _open(path) as container:
        stream = _video_stream(container, where, settings)
        declared, exact = _duration(container, stream)
        frames = _Frames(container, stream, where, settings)
        yield from _cut(frames, settings)
    if frames.error:
        raise frames.error
    if frames.end < declared - 2 / frames.fps - (0 if exact else 1.0):
        raise DecodeError(where, f"truncated: frames end at {frames.end:.2f} s of the declared {declared:.2f} s")


def _cut(frames: _Frames, settings: VideoSettings) -> Iterator[Shot]:
    """Shots from (frame, time) pairs. A cut is held until the new shot has lasted min_shot: a second cut
    before that merges the short shot into the one before it."""
    index, prev, cur, last = 0, None, None, None
    for frame, t in frames:
        sig = _signature(frame)
        cur = cur or _Open(0.0, settings.keyframe_every)
        if prev and t - cur.start >= settings.min_shot:  # the newest shot is long enough: the cut stands
            yield prev.close(index, cur.start)
            index, prev = index + 1, None
        if last is not None and difference(last, sig) > settings.cut_threshold and (
                prev or t - cur.start >= settings.min_shot):  # a too short first shot joins the next instead
            if prev:
                prev.absorb(cur, settings)
                cur = prev
            prev, cur = cur, _Open(t, settings.keyframe_every)
        cur.offer(frame, t, settings)
        last = sig
    if cur is None:
        raise frames.error or DecodeError(frames.where, "no decodable video frames")
    if prev and frames.end - cur.start < settings.min_shot:
        prev.absorb(cur, settings)
        prev, cur = None, prev
    if prev:
        yield prev.close(index, cur.start)
        index += 1
    yield cur.close(index, frames.end)


def read_soundtrack(path, rate: int | None = None) -> Waveform | None:
    """The first audio stream as one mono float32 Waveform at `rate` (default: its native rate); None when the
    file has no audio stream. `iter_soundtrack` gives it in pieces instead."""
    pieces = list(iter_soundtrack(path, rate))
    if not pieces:
        return None
    return Waveform(np.concatenate([p.samples for p in pieces]), pieces[0].rate)


def iter_soundtrack(path, rate: int | None = None, piece_seconds: float | None = None) -> Iterator[Waveform]:
    """The soundtrack in timed pieces of `piece_seconds` (memory bounded by one piece), decoded as iterated;
    nothing for a file without audio. An audio stream with no samples is a DecodeError."""
    _require_av()
    with _open(path) as container:
        found = False
        for piece in av_soundtrack(container, str(path), rate, piece_seconds):  # capped at audio.MAX_SECONDS
            found = True
            yield piece
        if container.streams.audio and not found:
            raise DecodeError(str(path), "audio stream has no samples")
