"""A model's name as one value: the only place that reads or writes the model-name grammar.

    NAME  = BASE ["@" PIN] {"+" AUDIO} ["+fusion:" FUSION]
    AUDIO = "speech" [":" WHISPER_DIR] | "audio-tower:" TOWER_DIR

BASE is "offline", an offline model id, a hub id or a model folder; PIN (12 hex digits of a trained model's
weights' sha256) names the weights of the trained model folder BASE, so "DIR@HASH" stays the same model when
the folder moves. Each audio path may appear once, the fusion last. Suffixes are read from the right and only
known ones count, so a base that holds a "+" itself (the offline model ids do) stays whole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BadInput

SPEECH, AUDIO_TOWER, FUSION = "speech", "audio-tower", "fusion"
PIN_DIGITS = 12
_PINNED = re.compile(rf"^(?P<base>.+)@(?P<pin>[0-9a-f]{{{PIN_DIGITS}}})$")


@dataclass(frozen=True)
class AudioPath:
    """A way for sound into the base's space: speech (Whisper transcripts; `where` an optional Whisper folder) or
    audio-tower (`where` the folder `mmret train-audio` wrote)."""

    kind: str
    where: str = ""

    @classmethod
    def parse(cls, text: str) -> AudioPath:
        kind, colon, where = text.partition(":")
        if colon and not where:
            raise BadInput(f"'+{text}' names no folder")
        return cls(kind, where)

    def __post_init__(self) -> None:
        if self.kind not in (SPEECH, AUDIO_TOWER):
            raise BadInput(f"'+{self}': not an audio path (+{SPEECH}[:DIR] or +{AUDIO_TOWER}:DIR)")
        if self.kind == AUDIO_TOWER and not self.where:
            raise BadInput(f"'+{self}' names no folder: +{AUDIO_TOWER}:DIR")

    def resolved(self) -> AudioPath:
        """The same path with its folder absolute, as a collection records it."""
        return replace(self, where=str(Path(self.where).expanduser().resolve())) if self.where else self

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}" if self.where else self.kind


@dataclass(frozen=True)
class ModelId:
    base: str
    pin: str | None = None
    audio: tuple[AudioPath, ...] = ()
    fusion: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelId:
        """The model id `text` names; ValueError naming the part that breaks the grammar."""
        rest, suffixes = _split_suffixes(text)
        pinned = _PINNED.match(rest)
        base, pin = (pinned["base"], pinned["pin"]) if pinned else (rest, None)
        kinds = [suffix.partition(":")[0] for suffix in suffixes]
        fusion = suffixes.pop().partition(":")[2] if kinds[-1:] == [FUSION] else None
        try:
            misplaced = [suffix for suffix, kind in zip(suffixes, kinds) if kind == FUSION]
            if misplaced:
                raise BadInput(f"'+{misplaced[0]}' must come last")
            return cls(base, pin, tuple(AudioPath.parse(suffix) for suffix in suffixes), fusion)
        except ValueError as error:
            raise BadInput(f"model {text!r}: {error}") from None

    def __post_init__(self) -> None:
        object.__setattr__(self, "audio", tuple(self.audio))
        if not self.base:
            raise BadInput("no base model before the suffixes" if self.audio or self.fusion else "empty name")
        if self.pin is not None and not re.fullmatch(f"[0-9a-f]{{{PIN_DIGITS}}}", self.pin):
            raise BadInput(f"'@{self.pin}': a weights pin is {PIN_DIGITS} lowercase hex digits")
        kinds = [path.kind for path in self.audio]
        if len(set(kinds)) != len(kinds):
            raise BadInput(f"each audio path (+{SPEECH}, +{AUDIO_TOWER}:DIR) may appear once")
        if self.fusion == "":
            raise BadInput(f"'+{FUSION}:' names no fusion: +{FUSION}:NAME")

    def __str__(self) -> str:
        pin = f"@{self.pin}" if self.pin else ""
        fusion = f"+{FUSION}:{self.fusion}" if self.fusion is not None else ""
        return self.base + pin + "".join(f"+{path}" for path in self.audio) + fusion

    @property
    def base_id(self) -> ModelId:
        """The base model alone (with its pin): what an encoder backend loads."""
        return ModelId(self.base, self.pin)

    @property
    def audio_kinds(self) -> set[str]:
        return {path.kind for path in self.audio}

    def with_audio(self, *paths: AudioPath) -> ModelId:
        return replace(self, audio=(*self.audio, *paths))

    def with_fusion(self, name: str | None) -> ModelId:
        return replace(self, fusion=name)

    def same_weights(self, other: ModelId) -> bool:
        """Whether both name the same model: equal, or the same trained weights (pin) with the same suffixes,
        wherever the folder is."""
        if self == other:
            return True
        return self.pin is not None and (self.pin, self.audio, self.fusion) == (other.pin, other.audio, other.fusion)


def _split_suffixes(text: str) -> tuple[str, list[str]]:
    """(the text before the suffixes, the suffixes in order): known suffixes only, read from the right."""
    rest, suffixes = text, []
    while True:
        head, plus, last = rest.rpartition("+")
        if not plus or last.partition(":")[0] not in (SPEECH, AUDIO_TOWER, FUSION):
            return rest, suffixes
        rest, suffixes = head, [last, *suffixes]
