"""Bad input through a whole indexing run: each bad file (made here, for real) gets one line naming it and the
reason, the good ones are indexed, and the summary counts the skips by reason. The encoder is a tiny fake:
this is about decoding and reporting, not retrieval."""
from __future__ import annotations

import io
import json
from types import MappingProxyType

import numpy as np
import pytest
from PIL import Image

from mmret.api import Collection
from mmret.data import audio, video
from mmret.data.decode import DecodeError, load_rgb, read_image
from mmret.data.sources import Skipped
from mmret.encoders.base import SHARED, Encoder, identity, l2_normalise
from mmret.media.timed_settings import TimedSettings

av = pytest.importorskip("av")
soundfile = pytest.importorskip("soundfile")


def image_features(image) -> np.ndarray:
    pixels = np.asarray(load_rgb(image), dtype=np.float32)
    return np.append(pixels.mean((0, 1)), 1.0)


def sound_features(wave) -> np.ndarray:
    return np.array([float(np.abs(wave.samples).mean()), 1.0, 0.0, 1.0], np.float32)


class MeanEncoder(Encoder):
    """Images -> mean colour, sounds -> mean level, texts -> length: 4-d, normalised."""

    model_id = "mean-features"
    modalities = ("text", "image", "audio")
    spaces = MappingProxyType({SHARED: 4})

    def preparer(self, modality):
        return {"image": image_features, "audio": sound_features}.get(modality, identity)

    def embed_prepared(self, modality, batch):
        rows = [[len(text), 1, 1, 1] for text in batch] if modality == "text" else batch
        return {SHARED: l2_normalise(np.asarray(rows, np.float32))}


def png_bytes(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def wav_bytes(seconds: float, fmt: str = "WAV", rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(round(seconds * rate)) / rate
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format=fmt)
    return buffer.getvalue()


def mp4_bytes(tmp_path, frames: int, fps: int = 12, size: int = 32) -> bytes:
    path = tmp_path / "clip-source.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            frame = np.full((size, size, 3), (i * 20) % 256, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    data = path.read_bytes()
    path.unlink()
    return data


def y4m(width: int, height: int) -> bytes:
    """A raw-video header (and a stub frame): the frame size is declared, nothing big is written."""
    return f"YUV4MPEG2 W{width} H{height} F12:1 C420jpeg\nFRAME\n".encode() + bytes(1000)


def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))


def animation() -> list[Image.Image]:
    return [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]


def good_files(tmp_path) -> dict[str, bytes]:
    frames = animation()
    return {
        "photo.png": png_bytes(photo()),
        "cmyk.jpg": png_bytes(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"),
        "grey16.png": png_bytes(Image.fromarray(np.full((8, 8), 32768, np.uint16))),
        "animated.gif": png_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "animated.webp": png_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
        "still.webp": png_bytes(photo(), "WEBP"),
        "png inside.jpg": png_bytes(photo()),  # a lying extension that is still an image
        "line\nbreak.png": png_bytes(photo()),
        "ünïcødé ☃.png": png_bytes(photo()),
        "tone.wav": wav_bytes(0.5),
        "tone.flac": wav_bytes(0.5, "FLAC"),
        "clip.mp4": mp4_bytes(tmp_path, frames=4),
    }


def bad_files(tmp_path) -> dict[str | bytes, tuple[bytes, str]]:
    """name -> (content, the kind of reason it is skipped for)."""
    jpeg, flac, mp4 = png_bytes(photo(), "JPEG"), wav_bytes(1.0, "FLAC"), mp4_bytes(tmp_path, frames=12)
    return {
        "truncated.jpg": (jpeg[: len(jpeg) * 3 // 4], "truncated or corrupt image data"),
        "corrupt.png": (b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, "truncated or corrupt image header"),
        "empty.png": (b"", "empty file"),
        "words.jpg": (b"this is not a picture\n", "not an image"),
        "sound.png": (flac, "not an image"),
        "bomb.png": (png_bytes(Image.new("1", (12_000, 12_000))), "image too large"),
        "thin.png": (png_bytes(Image.new("RGB", (20_000, 1))), "absurd aspect ratio"),
        "empty\nname.png": (b"", "empty file"),
        b"latin-1 \xe9.png": (png_bytes(photo()), "file name is not UTF-8 text"),
        "empty.wav": (b"", "empty file"),
        "words.wav": (b"RIFF but not really a wave file" * 10, "not a readable audio file"),
        "truncated.flac": (flac[:200], "truncated or corrupt audio data"),
        "long.flac": (wav_bytes(3.0, "FLAC"), "audio longer than 2 s"),
        "empty.mp4": (b"", "empty file"),
        "words.mp4": (b"not a video at all " * 50, "not a video"),
        "photo.mp4": (jpeg, "not a video"),
        "truncated.mp4": (mp4[: len(mp4) // 2], "truncated or corrupt video"),
        "many frames.mp4": (mp4, "too many frames"),
        "huge frames.mkv": (y4m(9000, 8000), "frame too large"),
        "thin frames.mkv": (y4m(4, 2000), "absurd aspect ratio"),
    }


@pytest.fixture
def folder(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    for name, content in good_files(tmp_path).items():
        (media / name).write_bytes(content)
    expected = {}
    for name, (content, kind) in bad_files(tmp_path).items():
        path = media / name if isinstance(name, str) else media.joinpath(name.decode("utf-8", "surrogateescape"))
        path.write_bytes(content)
        expected[path.name] = kind
    return media, expected


def write_manifest(tmp_path, media) -> tuple[object, dict[str, str]]:
    manifest = tmp_path / "rows.jsonl"
    lines = [json.dumps({"text": "a caption of its own"}), '{"path": "media/photo.png"',
             json.dumps({"path": "media/gone.png"}), '{"text": "caf\xe9"}']
    manifest.write_bytes("\n".join(lines[:3]).encode() + b"\n" + lines[3].encode("latin-1") + b"\n")
    return manifest, {f"{manifest}:2": "invalid JSON", f"{manifest}:3": "no such file",
                      f"{manifest}:4": "not UTF-8 text"}


def test_every_bad_file_is_one_line_the_run_goes_on_and_skips_are_counted_by_reason(tmp_path, folder, monkeypatch):
    media, expected = folder
    manifest, expected_rows = write_manifest(tmp_path, media)
    monkeypatch.setattr(audio, "MAX_SECONDS", 2)
    skipped: list[Skipped] = []
    collection = Collection.open(tmp_path / "coll", MeanEncoder())
    report = collection.add([media, manifest], workers=0, on_skip=skipped.append,
                            timed=TimedSettings(video={"max_frames": 6}))

    by_file = {s.where: s.kind for s in skipped}
    assert {where.rsplit("/", 1)[-1]: kind for where, kind in by_file.items() if ".jsonl:" not in where} == expected
    assert {where: kind for where, kind in by_file.items() if ".jsonl:" in where} == expected_rows
    assert len(skipped) == len(by_file)  # one line each
    assert all("\n" not in str(s) for s in skipped)
    assert report.added == len(good_files(tmp_path)) + 1  # and the manifest's own caption
    assert f"{len(skipped)} skipped (" in report.summary()
    assert "4 empty file" in report.summary() and "2 absurd aspect ratio" in report.summary()


@pytest.mark.parametrize("name, colour", [("cmyk.jpg", (255, 0, 0)), ("grey16.png", (128, 128, 128)),
                                          ("animated.gif", (255, 0, 0)), ("animated.webp", (255, 0, 0))])
def test_unusual_image_modes_decode_to_the_right_rgb(tmp_path, name, colour):
    path = tmp_path / name
    path.write_bytes(good_files(tmp_path)[name])
    assert np.abs(np.subtract(read_image(path).getpixel((4, 4)), colour)).max() <= 2


def test_a_too_long_sound_is_refused_from_its_header_by_the_whole_file_decoder(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "MAX_SECONDS", 2)
    long = tmp_path / "long.flac"
    long.write_bytes(wav_bytes(3.0, "FLAC"))
    with pytest.raises(DecodeError, match=r"long.flac: audio longer than 2 s \(3 s\)"):
        audio.read_audio(long)


def test_frames_are_counted_while_decoding_where_the_container_declares_none(tmp_path):
    clip = tmp_path / "clip.mkv"
    with av.open(str(clip), "w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=12)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for i in range(12):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((16, 16, 3), i * 20, np.uint8), format="rgb24")))
        out.mux(stream.encode())
    with av.open(str(clip)) as container:
        assert container.streams.video[0].frames == 0
    with pytest.raises(DecodeError, match="too many frames \\(more than 6\\)"):
        list(video.iter_shots(clip, video.VideoSettings(max_frames=6)))


def test_a_wav_declaring_an_unknown_codec_is_a_decode_error(tmp_path):
    """Found by benchmarks/fuzz_decoders.py: FFmpeg opens the stream but has no decoder for its format."""
    data = bytearray(wav_bytes(0.5))
    data[20:22] = (0xD101).to_bytes(2, "little")  # the fmt chunk's format tag: no such codec
    path = tmp_path / "codec.wav"
    path.write_bytes(bytes(data))
    for decode in (audio.read_audio, lambda p: list(audio.iter_audio(p))):
        with pytest.raises(DecodeError, match="codec.wav: truncated or corrupt audio"):
            decode(path)


def test_every_cut_of_a_small_mp4_is_shots_or_a_decode_error(tmp_path):
    """Found by the fuzzing run: a cut inside the stream description left a stream FFmpeg cannot decode."""
    whole = mp4_bytes(tmp_path, frames=4, size=16)
    cut = tmp_path / "cut.mp4"
    refused = 0
    for length in range(1, len(whole), 3):
        cut.write_bytes(whole[:length])
        try:
            list(video.iter_shots(cut))
        except DecodeError as error:
            assert error.where == str(cut)
            refused += 1
    assert refused > len(whole) // 6  # most cuts lose the index; those that only lose trailing tags still play
