"""One shared space from a text(+image) encoder and the audio paths that embed into its text space.

`offline+speech+audio-tower:DIR` is the offline model with two ways into its text tower's space for sound: Whisper
transcripts of what is said (speech) and a trained log-mel tower for what it sounds like (sound). A whole audio
clip's vector comes from the sound path when there is one, else from its transcript; indexing also stores timed
segments from both paths (mmret.media.timed_mapper).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import BadInput
from .base import SHARED, Encoder
from .model_id import AudioPath, ModelId
from .speech import SpeechEncoder


class CompositeEncoder(Encoder):
    def __init__(self, base: Encoder, sound: Encoder | None = None, speech: SpeechEncoder | None = None,
                 suffixes: Sequence[str] = ()):
        """`suffixes` name the audio paths in the model id (e.g. "speech", "audio-tower:/abs/dir") so that the
        id a collection records loads the same encoder again."""
        if sound is None and speech is None:
            raise BadInput(f"{base.model_id}: a composite encoder needs a sound or a speech path")
        for path in (sound, speech):
            if path is not None and path.spaces[SHARED] != base.spaces[SHARED]:
                raise BadInput(f"{path.model_id} embeds into {path.spaces[SHARED]} dimensions, "
                               f"{base.model_id} into {base.spaces[SHARED]}")
        self.base, self.sound, self.speech = base, sound, speech
        self.modalities = (*base.modalities, "audio")
        self.spaces = dict(base.spaces)
        self.model_id = str(ModelId.parse(base.model_id).with_audio(*map(AudioPath.parse, suffixes)))

    def _route(self, modality: str) -> Encoder:
        self._check(modality)
        if modality != "audio":
            return self.base
        return self.sound or self.speech

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        return self._route(modality).preparer(modality)

    def collate(self, modality: str, prepared: Sequence[Any]) -> Any:
        return self._route(modality).collate(modality, prepared)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        return self._route(modality).embed_prepared(modality, batch)

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        return self._route(modality).spaces_for(modality) if modality != "audio" else (SHARED,)


def audio_paths(encoder: Encoder) -> tuple[Encoder | None, SpeechEncoder | None]:
    """(sound, speech): the encoder's ways of embedding audio, each None when absent."""
    if isinstance(encoder, CompositeEncoder):
        return encoder.sound, encoder.speech
    if isinstance(encoder, SpeechEncoder):
        return None, encoder
    return (encoder if "audio" in encoder.modalities else None), None
