"""Test videos with ground truth, made from the real shared photos and sounds (there is no video data set).

Each video is 3-6 shots; a shot shows one captioned photo for 2-5 s with a slow Ken Burns zoom/pan (so its
frames differ), shots are joined by hard cuts, and about half the shots carry a real sound (an ESC-50 clip
or a spoken FSDD digit) from the shot's start, trimmed to the shot, with silence elsewhere. Cuts fall on
frame boundaries, so the true cut times are exact. `build_video_set` writes the videos, `truth.json` and
`segments.csv` (one row per caption of a shot: path, start, end, text, the table `mmret train-pooling` reads);
`load_video_set` reads them back. Encoding needs PyAV: `pip install 'mmret[video]'`.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mmret.data.audio import Waveform, loudness_dbfs, read_audio
from mmret.data.decode import read_image

from ..errors import BadInput, MissingPackage

AUDIO_RATE = 24_000  # accepted by AAC, Opus and FLAC alike
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# per container: (video encoders, audio encoders), best first; the first this FFmpeg build has is used
CODECS = {
    "mp4": (["libx264", "mpeg4"], ["aac"]),
    "webm": (["libvpx-vp9", "libvpx"], ["libopus", "opus", "vorbis"]),
    "mkv": (["libx264", "mpeg4"], ["flac", "aac"]),
}
VIDEO_OPTIONS = {
    "libx264": {"preset": "ultrafast", "crf": "28"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "b": "400k"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8", "b": "400k"},
}
MIN_SOUND_DBFS = -35.0  # a clip this quiet over its shot is passed over: the truth says the sound is audible


@dataclass(frozen=True)
class ShotTruth:
    start: float
    end: float
    image: str
    captions: list[str]
    sound: str | None = None
    sound_label: str | None = None


@dataclass(frozen=True)
class VideoTruth:
    path: str
    shots: list[ShotTruth]


def build_video_set(out_dir, captions_json, count: int, seed: int = 0, esc50_dir=None, fsdd_dir=None,
                    formats=("mp4", "webm", "mkv"), fps: int = 12, size=(320, 240)) -> list[VideoTruth]:
    """Write `count` videos (formats cycled), truth.json and segments.csv into out_dir; deterministic for a seed."""
    unknown = sorted(set(formats) - set(CODECS))
    if unknown:
        raise BadInput(f"unknown video formats {unknown}: choose from {sorted(CODECS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _photos(Path(captions_json), rng)
    sounds = _sound_sources(esc50_dir, fsdd_dir)
    videos = []
    for i in range(count):
        fmt = formats[i % len(formats)]
        frames = [round(rng.uniform(2, 5) * fps) for _ in range(rng.integers(3, 7))]
        if len(photos) < len(frames):
            raise BadInput(f"{captions_json}: not enough photos for {count} videos")
        starts = np.cumsum([0] + frames)
        shots = [ShotTruth(float(starts[k] / fps), float(starts[k + 1] / fps), *photos.pop())
                 for k in range(len(frames))]
        shots, track = _soundtrack(shots, sounds, rng, int(starts[-1]), fps)
        path = out_dir / f"video_{i:03d}.{fmt}"
        _encode(path, fmt, shots, frames, track, fps, size, rng)
        videos.append(VideoTruth(str(path), shots))
    (out_dir / "truth.json").write_text(json.dumps(
        {"seed": seed, "fps": fps, "videos": [{**asdict(v), "path": Path(v.path).name} for v in videos]}, indent=1))
    write_segments(out_dir / "segments.csv", videos)
    return videos


def write_segments(table: Path, videos: list[VideoTruth]) -> None:
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "start", "end", "text"])
        for video in videos:
            for shot in video.shots:
                writer.writerows([Path(video.path).name, shot.start, shot.end, text] for text in shot.captions)


def load_video_set(out_dir) -> list[VideoTruth]:
    out_dir = Path(out_dir)
    data = json.loads((out_dir / "truth.json").read_text())
    return [VideoTruth(str(out_dir / v["path"]), [ShotTruth(**s) for s in v["shots"]]) for v in data["videos"]]


def _photos(captions_json: Path, rng) -> list[tuple[str, list[str]]]:
    records = json.loads(captions_json.read_text())
    order = rng.permutation(len(records))[::-1]  # popped from the end: each photo at most once
    return [(str(captions_json.parent / records[j]["image"]), list(records[j]["captions"])) for j in order]


def _sound_sources(esc50_dir, fsdd_dir) -> list[list[tuple[str, str]]]:
    """Lists of (clip path, label), one list per available source."""
    sources = []
    if esc50_dir:
        audio = Path(esc50_dir) / "audio"
        with open(Path(esc50_dir) / "esc50.csv", newline="") as f:
            rows = sorted((r["filename"], r["category"]) for r in csv.DictReader(f))
        sources.append([(str(audio / n), c.replace("_", " ")) for n, c in rows if (audio / n).is_file()])
    if fsdd_dir:
        names = sorted(p.name for p in (Path(fsdd_dir) / "recordings").glob("*.wav"))
        sources.append([(str(Path(fsdd_dir) / "recordings" / n), DIGITS[int(n[0])]) for n in names])
    return [s for s in sources if s]


def _soundtrack(shots, sources, rng, n_frames: int, fps: int):
    """About half the shots get a clip at their start, trimmed to the shot; the rest of the track is silent."""
    track = np.zeros(round(n_frames * AUDIO_RATE / fps), np.float32)
    out = []
    for shot in shots:
        if sources and rng.random() < 0.5:
            a, b = round(shot.start * AUDIO_RATE), round(shot.end * AUDIO_RATE)
            path, label, clip = _pick_clip(sources[rng.integers(len(sources))], rng, b - a)
            track[a:a + len(clip)] = clip
            shot = ShotTruth(shot.start, shot.end, shot.image, shot.captions, path, label)
        out.append(shot)
    return out, track


def _pick_clip(source, rng, length: int, tries: int = 20):
    for _ in range(tries):
        path, label = source[rng.integers(len(source))]
        samples = read_audio(path, rate=AUDIO_RATE).samples[:length]
        peak = float(np.abs(samples).max())
        if peak == 0:
            continue
        samples = samples * (0.5 / peak)
        fade = min(len(samples), AUDIO_RATE // 100)  # 10 ms fade-out: no click where the clip is cut
        samples[len(samples) - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        if loudness_dbfs(Waveform(samples, AUDIO_RATE)) - 10 * np.log10(length / len(samples)) >= MIN_SOUND_DBFS:
            return path, label, samples.astype(np.float32)
    raise BadInput(f"no audible clip found among {tries} tries")


def _ken_burns(photo, n: int, size, rng):
    """n frames panning and zooming slowly across the photo (zoom 1 -> 1.1-1.25 or back)."""
    from PIL import Image

    W, H = size
    pw, ph = photo.size
    fw, fh = (pw, pw * H / W) if pw * H / W <= ph else (ph * W / H, ph)  # largest box of the frame's aspect
    zoom = [1.0, 1.0 + rng.uniform(0.1, 0.25)][::rng.choice([1, -1])]
    ends = []
    for z in zoom:
        bw, bh = fw / z, fh / z
        ends.append((bw, bh, rng.uniform(bw / 2, pw - bw / 2), rng.uniform(bh / 2, ph - bh / 2)))
    for t in np.linspace(0, 1, n):
        bw, bh, cx, cy = (a + (b - a) * t for a, b in zip(*ends))
        yield photo.resize((W, H), Image.BILINEAR, box=(cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2))


def _encoder(names: list[str]) -> str:
    import av

    for name in names:
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.error.FFmpegError, ValueError):  # UnknownCodecError is a ValueError
            continue
    raise MissingPackage(f"this FFmpeg build has none of the encoders {names}")


def _encode(path: Path, fmt: str, shots, frames, track, fps: int, size, rng) -> None:
    import av

    vnames, anames = CODECS[fmt]
    vcodec, acodec = _encoder(vnames), _encoder(anames)
    with av.open(str(path), "w", format="matroska" if fmt == "mkv" else None) as out:
        video = out.add_stream(vcodec, rate=fps, options=VIDEO_OPTIONS.get(vcodec, {}))
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = out.add_stream(acodec, rate=AUDIO_RATE, layout="mono")
        if acodec in ("opus", "vorbis"):
            audio.codec_context.options = {"strict": "experimental"}
        i = 0
        for shot, n in zip(shots, frames):
            for image in _ken_burns(read_image(shot.image), n, size, rng):
                out.mux(video.encode(av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")))
                a, b = round(i * AUDIO_RATE / fps), round((i + 1) * AUDIO_RATE / fps)
                chunk = av.AudioFrame.from_ndarray(track[None, a:b], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = AUDIO_RATE, a
                out.mux(audio.encode(chunk))
                i += 1
        out.mux(video.encode())
        out.mux(audio.encode())
