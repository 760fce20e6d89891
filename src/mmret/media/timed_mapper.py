"""The mapper for audio and video items: a file becomes its own record plus timed segment records (segments.py).

- video: every shot (mmret.data.video) is a segment embedded by the image tower, its keyframes pooled
  (mean, or a trained AttentionPooling in the shared space); with `ocr`, text read in a shot's middle keyframe
  is a segment of its own, embedded by the text tower; with `faces`, each face in a shot's middle keyframe is a
  face segment (face_segments.py); the soundtrack goes the audio way, on the video's clock;
- audio: fixed windows embedded by the sound path (silent windows are left out), and the speech path's transcript
  segments, each stored with what was said as its text.
"""
from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
from tqdm import tqdm

from ..data.audio import Waveform, is_silent, iter_audio, windows
from ..data.decode import DecodeError
from ..data.items import Item
from ..encoders.base import SHARED, Encoder
from ..encoders.composite import audio_paths
from ..encoders.pooling import mean_pool
from ..encoders.speech import WHISPER_RATE
from .batches import EmbeddedBatch
from .face_mapper import FaceFinder
from .face_vectors import FACE_SPACE
from .segments import segment_item
from .timed_settings import TimedSettings

SOUND_PIECE = 600.0  # seconds of sound decoded and embedded at a time (bounded memory); windows restart at each piece


def indexable_modalities(encoder: Encoder) -> tuple[str, ...]:
    """What an encoder can index: its own modalities, and video when it embeds images."""
    return (*encoder.modalities, "video") if "image" in encoder.modalities else tuple(encoder.modalities)


@dataclass
class _Parts:
    """A file's segment items and their vectors, grouped by the spaces they have vectors in."""

    groups: dict[tuple[str, ...], tuple[list[Item], dict[str, list[np.ndarray]]]] = field(default_factory=dict)
    faces_too_small: int = 0

    def add(self, items: list[Item], vectors: dict[str, np.ndarray]) -> None:
        if not items:
            return
        stored, rows = self.groups.setdefault(tuple(sorted(vectors)), ([], {s: [] for s in vectors}))
        stored.extend(items)
        for space, array in vectors.items():
            rows[space].append(array)

    def batches(self, file_item: Item, digest: str) -> list[EmbeddedBatch]:
        out = [EmbeddedBatch(file_item.modality, [file_item], [digest], faces_too_small=self.faces_too_small)]
        for items, rows in self.groups.values():
            vectors = {space: np.concatenate(arrays) for space, arrays in rows.items()}
            out.append(EmbeddedBatch(file_item.modality, items, [digest] * len(items), vectors))
        return out


class TimedEmbedder:
    """The mapper for audio and video items: one file at a time, yielding EmbeddedBatch objects."""

    def __init__(self, encoder: Encoder, settings: TimedSettings | None = None):
        self.encoder = encoder
        self.settings = settings or TimedSettings()
        self.sound, self.speech = audio_paths(encoder)
        self.reader = None
        if self.settings.ocr:
            from ..encoders.ocr import KeyframeReader

            self.reader = KeyframeReader()
        self.faces = None if self.settings.faces is None else FaceFinder(self.settings.faces)

    def embed(self, items: Iterable[Item], progress: bool = False) -> Iterator[EmbeddedBatch]:
        for item in tqdm(items, desc="audio/video", unit="file", disable=not progress):
            try:
                parts = self._video(item) if item.modality == "video" else self._audio(item)
                digest = _file_digest(item.path)
            except DecodeError as e:
                yield EmbeddedBatch(item.modality, failures=[(item, e.reason)])
                continue
            except OSError as e:
                yield EmbeddedBatch(item.modality, failures=[(item, f"cannot read: {e}")])
                continue
            yield from parts.batches(item, digest)

    def _audio(self, item: Item) -> _Parts:
        parts = _Parts()
        for piece in iter_audio(item.path, self._soundtrack_rate(), SOUND_PIECE):
            self._add_soundtrack(parts, item, piece)
        return parts

    def _video(self, item: Item) -> _Parts:
        from ..data.video import VideoSettings, iter_shots, iter_soundtrack, probe_video

        info = probe_video(item.path)
        parts = _Parts()
        pending: list = []
        for shot in _prefetched(iter_shots(item.path, VideoSettings(**self.settings.video))):
            pending.append(shot)
            if sum(len(s.frames) for s in pending) >= self.settings.batch_size:
                self._add_shots(parts, item, pending)
                pending = []
        self._add_shots(parts, item, pending)
        if info.has_audio and (self.sound or self.speech):
            for piece in iter_soundtrack(item.path, self._soundtrack_rate(), SOUND_PIECE):
                self._add_soundtrack(parts, item, piece)
        return parts

    def _soundtrack_rate(self) -> int:
        """The highest rate an audio path needs (Whisper and the sound tower 16 kHz, CLAP 48 kHz)."""
        return max(WHISPER_RATE, getattr(self.sound, "sampling_rate", WHISPER_RATE))

    def _add_shots(self, parts: _Parts, item: Item, shots: list) -> None:
        if not shots:
            return
        frames = self.encoder.embed("image", [frame for shot in shots for frame in shot.frames])
        bounds = np.cumsum([0] + [len(shot.frames) for shot in shots])
        pooled = {space: np.stack([self._pool(space, array[a:b]) for a, b in pairwise(bounds)])
                  for space, array in frames.items()}
        parts.add([segment_item(item, "shot", s.start, s.end) for s in shots], pooled)
        if self.reader is not None:
            self._add_ocr(parts, item, shots)
        if self.faces is not None:
            self._add_faces(parts, item, shots)

    def _add_ocr(self, parts: _Parts, item: Item, shots: list) -> None:
        read = [(shot, self.reader.text(shot.frames[len(shot.frames) // 2])) for shot in shots]
        read = [(shot, text) for shot, text in read if text]
        if read:
            vectors = self.encoder.encode("text", [text for _, text in read])
            parts.add([segment_item(item, "ocr", s.start, s.end, text) for s, text in read], {SHARED: vectors})

    def _add_faces(self, parts: _Parts, item: Item, shots: list) -> None:
        for shot in shots:
            faces, vectors, too_small = self.faces.keyframe_faces(item, shot.frames[len(shot.frames) // 2],
                                                                  shot.start, shot.end)
            parts.add(faces, {FACE_SPACE: vectors})
            parts.faces_too_small += too_small

    def _pool(self, space: str, frames: np.ndarray) -> np.ndarray:
        if space == SHARED and self.settings.pooling is not None:
            return self.settings.pooling.pool(frames)
        return mean_pool(frames)

    def _add_soundtrack(self, parts: _Parts, item: Item, wave: Waveform) -> None:
        if self.sound is not None:
            loud = [w for w in windows(wave, self.settings.window) if not is_silent(w)]
            if loud:
                vectors = self.sound.embed("audio", loud)
                parts.add([segment_item(item, "sound", w.start, w.end) for w in loud], {SHARED: vectors[SHARED]})
        if self.speech is not None and not is_silent(wave):
            said, vectors = self.speech.segments(wave)
            if said:
                parts.add([segment_item(item, "speech", s.start, s.end, s.text) for s in said],
                          {SHARED: vectors})


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _prefetched(iterator: Iterator, depth: int = 2) -> Iterator:
    """Iterate in a background thread (video decoding overlaps embedding); errors re-raise here."""
    slots: queue.Queue = queue.Queue(depth)
    done = object()

    def fill() -> None:
        try:
            for value in iterator:
                slots.put((value, None))
        except Exception as error:  # noqa: BLE001 -- handed to the consumer, which re-raises it
            slots.put((None, error))
        else:
            slots.put((done, None))

    threading.Thread(target=fill, daemon=True).start()
    while True:
        value, error = slots.get()
        if error is not None:
            raise error
        if value is done:
            return
        yield value
