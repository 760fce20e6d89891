"""CLAP (contrastive language-audio pretraining) from a hub id or local directory: texts and sounds in one space.

e.g. laion/clap-htsat-unfused or laion/larger_clap_general when online. Audio is prepared in loader workers:
decoded, mixed to mono, resampled to the model's rate (48 kHz) and turned into the model's log-mel input by its
own feature extractor. A clip longer than the extractor's window (10 s) keeps its first window, so vectors do
not depend on the extractor's random crop: cut long files into windows first (`mmret.data.audio.windows`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoTokenizer, ClapModel

from ..data.audio import Waveform, resample
from ..errors import BadInput
from .base import SHARED, Encoder
from .hf import _load, _resolve_model_id, _unit_rows

CHUNK = 16  # clips per forward pass


@dataclass(frozen=True)
class ClapAudioPreparer:
    """Waveform -> the model's audio inputs for one clip ({name: array without the batch axis})."""

    extractor: Any

    def __call__(self, wave: Waveform) -> dict[str, np.ndarray]:
        rate = self.extractor.sampling_rate
        samples = resample(wave, rate).samples[: self.extractor.nb_max_samples]
        features = self.extractor(samples, sampling_rate=rate, return_tensors="np")
        return {name: np.asarray(value)[0] for name, value in features.items()}


class ClapEncoder(Encoder):
    """A transformers ClapModel: texts and audio clips into its projection space."""

    modalities = ("text", "audio")

    def __init__(self, name_or_path: str, device: str | torch.device = "cpu"):
        self.model_id = _resolve_model_id(name_or_path)
        config = _load(AutoConfig.from_pretrained, self.model_id, "config")
        if config.model_type != "clap":
            raise BadInput(f"model {self.model_id!r} has model_type {config.model_type!r}; ClapEncoder needs 'clap'")
        self.spaces = {SHARED: config.projection_dim}
        self.device = torch.device(device)
        self._tokenizer = _load(AutoTokenizer.from_pretrained, self.model_id, "tokenizer")
        self._max_text_length = min(self._tokenizer.model_max_length, config.text_config.max_position_embeddings - 2)
        extractor = _load(AutoFeatureExtractor.from_pretrained, self.model_id, "feature extractor")
        self._audio_preparer = ClapAudioPreparer(extractor)
        model = _load(lambda mid: ClapModel.from_pretrained(mid, config=config, dtype=torch.float32),
                      self.model_id, "weights")
        self._model = model.eval().to(self.device)

    @property
    def sampling_rate(self) -> int:
        return self._audio_preparer.extractor.sampling_rate

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        return self._audio_preparer if modality == "audio" else super().preparer(modality)

    def collate(self, modality: str, prepared: Sequence[Any]) -> Any:
        if modality == "audio":
            return {name: np.stack([p[name] for p in prepared]) for name in (prepared[0] if prepared else {})}
        return list(prepared)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        count = len(batch) if modality == "text" else len(next(iter(batch.values()), []))
        if count == 0:
            return {SHARED: np.zeros((0, self.spaces[SHARED]), dtype=np.float32)}
        features = self._text_features if modality == "text" else self._audio_features
        return {SHARED: np.concatenate([features(_rows(batch, start)) for start in range(0, count, CHUNK)])}

    def _text_features(self, texts: Sequence[str]) -> np.ndarray:
        inputs = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_text_length,
                                 return_tensors="pt")
        with torch.inference_mode():
            return _unit_rows(self._model.get_text_features(**inputs.to(self.device)))

    def _audio_features(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        tensors = {name: torch.from_numpy(value).to(self.device) for name, value in inputs.items()}
        with torch.inference_mode():
            return _unit_rows(self._model.get_audio_features(**tensors))


def _rows(batch: Any, start: int) -> Any:
    """Rows start:start+CHUNK of a text list or of a dict of audio input arrays."""
    if isinstance(batch, dict):
        return {name: value[start:start + CHUNK] for name, value in batch.items()}
    return batch[start:start + CHUNK]
