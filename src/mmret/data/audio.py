"""Safe audio decoding: file bytes -> mono float32 samples at a chosen rate, cut into timed windows.

WAV, FLAC and OGG/Vorbis are read by soundfile (libsndfile); anything soundfile cannot read (MP3, M4A/AAC)
falls back to PyAV (FFmpeg). Both are optional: `pip install 'mmret[audio]'`. Every way a file can be bad
becomes a DecodeError naming the file and the reason.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path

import numpy as np

from ..errors import MissingPackage
from .decode import DEFAULT_LIMITS, DecodeError, DecodeLimits, read_bytes

INSTALL_HINT = "pip install 'mmret[audio]'"
MAX_SECONDS = 4 * 3600  # a longer stream is refused rather than decoded into memory
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class Waveform:
    """Mono float32 samples in [-1, 1] at `rate` Hz, starting `start` seconds into the source file."""

    samples: np.ndarray
    rate: int
    start: float = 0.0

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    @property
    def end(self) -> float:
        return self.start + self.seconds


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as e:
        raise MissingPackage(f"audio decoding needs the {module!r} package: {INSTALL_HINT}") from e


def open_audio(data: bytes, where: str, rate: int | None = None) -> Waveform:
    """Decode file bytes to mono samples, resampled to `rate` when given (else the file's own rate)."""
    samples, native = _decode(data, where)
    if samples.size == 0:
        raise DecodeError(where, "no audio samples")
    if not np.all(np.isfinite(samples)):
        raise DecodeError(where, "audio contains non-finite samples")
    wave = Waveform(samples, native)
    return resample(wave, rate) if rate else wave


def read_audio(path: str | Path, rate: int | None = None, limits: DecodeLimits = DEFAULT_LIMITS) -> Waveform:
    """Read, check and decode an audio file as mono samples."""
    return open_audio(read_bytes(path, limits), str(path), rate)


def iter_audio(path: str | Path, rate: int | None = None, piece_seconds: float = 600.0) -> Iterator[Waveform]:
    """A recording as timed mono pieces of `piece_seconds` (memory bounded by one piece, so hours of audio can be
    indexed), resampled to `rate` when given. `read_audio`'s byte cap does not apply; MAX_SECONDS does."""
    where = str(path)
    if read_size(path) == 0:
        raise DecodeError(where, "empty file")
    soundfile = _require("soundfile")
    try:
        handle = soundfile.SoundFile(where)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        pieces = _av_pieces(where, rate, piece_seconds)
    else:
        pieces = _soundfile_pieces(handle, where, rate, piece_seconds)
    found = False
    for piece in pieces:
        if not np.all(np.isfinite(piece.samples)):
            raise DecodeError(where, "audio contains non-finite samples")
        found = True
        yield piece
    if not found:
        raise DecodeError(where, "no audio samples")


def read_size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError as e:
        raise DecodeError(str(path), f"cannot read: {e.strerror or e}") from e


def _soundfile_pieces(handle, where: str, rate: int | None, piece_seconds: float) -> Iterator[Waveform]:
    import soundfile

    with handle:
        native = handle.samplerate
        if handle.frames > MAX_SECONDS * native:
            raise DecodeError(where, f"audio longer than {MAX_SECONDS} s")
        start = 0
        try:
            for block in handle.blocks(blocksize=round(piece_seconds * native), dtype="float32", always_2d=True):
                piece = Waveform(to_mono(block), native, start / native)
                start += len(block)
                yield resample(piece, rate) if rate else piece
        except (soundfile.LibsndfileError, RuntimeError) as e:
            raise DecodeError(where, f"truncated or corrupt audio data: {e}") from e


def _av_pieces(where: str, rate: int | None, piece_seconds: float) -> Iterator[Waveform]:
    av = _require("av")
    try:
        container = av.open(where)
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise DecodeError(where, f"not a readable audio file: {e}") from e
    with container:
        if not container.streams.audio:
            raise DecodeError(where, "no audio stream")
        yield from av_soundtrack(container, where, rate, piece_seconds)


def _decode(data: bytes, where: str) -> tuple[np.ndarray, int]:
    soundfile = _require("soundfile")
    try:
        info = soundfile.info(io.BytesIO(data))
        if info.frames > MAX_SECONDS * info.samplerate:  # refused from the header, before decoding
            raise DecodeError(where, f"audio longer than {MAX_SECONDS} s ({info.frames / info.samplerate:.0f} s)")
        frames, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        return _decode_with_av(data, where)
    return to_mono(frames), int(rate)


def _decode_with_av(data: bytes, where: str) -> tuple[np.ndarray, int]:
    av = _require("av")
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.audio:
                raise DecodeError(where, "no audio stream")
            pieces = list(av_soundtrack(container, where))
    except DecodeError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise DecodeError(where, f"not a readable audio file: {e}") from e
    if not pieces:
        return np.zeros(0, np.float32), 0
    return np.concatenate([p.samples for p in pieces]), pieces[0].rate


def av_soundtrack(container, where: str, rate: int | None = None, piece_seconds: float | None = None
                  ) -> Iterator[Waveform]:
    """The first audio stream of an open PyAV container as mono Waveforms of `piece_seconds` each (the last one
    shorter; default: one piece), each with its start time, at `rate` when given (FFmpeg resamples while
    decoding), else the stream's own. Decoded as iterated: a long track is never held whole. Nothing is
    yielded for a container without audio."""
    if not container.streams.audio:
        return
    stream = container.streams.audio[0]
    if stream.codec_context is None:  # FFmpeg found the stream but has no decoder for its format
        raise DecodeError(where, "truncated or corrupt audio (undecodable stream)")
    native = stream.rate or stream.codec_context.sample_rate
    if not native:
        raise DecodeError(where, "audio stream has no sample rate")
    rate = int(rate or native)
    size = round(piece_seconds * rate) if piece_seconds else None
    held, count, start = [], 0, 0  # chunks of the piece being filled, their total length, its first sample
    for chunk in _av_chunks(container, stream, where, native, rate):
        held.append(chunk)
        count += len(chunk)
        while size and count >= size:
            samples = np.concatenate(held)
            yield Waveform(samples[:size], rate, start / rate)
            held, count, start = [samples[size:]], count - size, start + size
    if count:
        yield Waveform(np.concatenate(held), rate, start / rate)


def _av_chunks(container, stream, where: str, rate: int, out_rate: int) -> Iterator[np.ndarray]:
    """Mono float32 chunks of a stream at `out_rate`, decoded as iterated; FFmpeg errors become DecodeError."""
    import av

    planar = av.AudioResampler(format="fltp", rate=out_rate)
    total = 0
    try:
        for frame in chain(container.decode(stream), [None]):  # None flushes the resampler
            for converted in planar.resample(frame):
                mono = to_mono(converted.to_ndarray().T)  # (channels, samples) -> (samples, channels)
                total += len(mono)
                if total > MAX_SECONDS * out_rate:
                    raise DecodeError(where, f"audio longer than {MAX_SECONDS} s")
                yield mono
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise DecodeError(where, f"truncated or corrupt audio data: {e}") from e


def to_mono(frames: np.ndarray) -> np.ndarray:
    """(samples, channels) or (samples,) -> (samples,) float32, the channel mean."""
    frames = np.asarray(frames, dtype=np.float32)
    return frames if frames.ndim == 1 else frames.mean(axis=1, dtype=np.float32)


def resample(wave: Waveform, rate: int) -> Waveform:
    """The waveform at `rate` Hz by polyphase filtering (an anti-aliasing FIR, not interpolation)."""
    if rate == wave.rate:
        return wave
    from scipy.signal import resample_poly

    ratio = Fraction(rate, wave.rate)
    samples = resample_poly(wave.samples, ratio.numerator, ratio.denominator).astype(np.float32)
    return Waveform(samples, rate, wave.start)


def windows(wave: Waveform, seconds: float, hop: float | None = None) -> list[Waveform]:
    """Fixed windows of `seconds` every `hop` seconds (default: no overlap), each with its start time. The
    last window holds what is left (shorter); a clip shorter than one window is one window."""
    size = max(1, round(seconds * wave.rate))
    step = max(1, round((hop or seconds) * wave.rate))
    starts = range(0, max(1, len(wave.samples) - size + step), step)
    return [Waveform(wave.samples[i:i + size], wave.rate, wave.start + i / wave.rate) for i in starts]


def loudness_dbfs(wave: Waveform) -> float:
    """RMS level in dB relative to full scale; -inf for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(wave.samples, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def is_silent(wave: Waveform, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    return loudness_dbfs(wave) < threshold_dbfs
