"""Whisper on non-speech and speech, before and after the confidence gate (issue 28, item 6).

ESC-50 (the shared subset: the first two clips of each of its 50 classes, none of them speech) and FSDD (takes 0
and 1 of every digit by four speakers, 80 recordings) are transcribed by the bundled Whisper tiny.en behind
faster-whisper's Silero VAD at each VAD threshold in VAD, keeping every segment with its no-speech probability,
mean token log probability and compression ratio. The VAD threshold and the two confidence thresholds are tuned
on one half of each set (ESC-50's first clip of each class, FSDD take 0) and reported on the other half (second
clips, take 1); the compression ratio limit is Whisper's own 2.4, not tuned:
- noise transcribed: the share of ESC-50 clips left with any transcript (should be 0);
- digit kept: the share of FSDD recordings whose transcript still holds the spoken digit (word or numeral).
"Before" is VAD at faster-whisper's default 0.5 and every segment kept, as mmret did until this gate.

Usage: python benchmarks/speech_gate.py   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/speech_gate.json.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import platform
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from mmret.data.audio import read_audio
from mmret.encoders.speech import MAX_COMPRESSION_RATIO, Transcriber

DATA = Path(os.environ.get("MMR_DATA_DIR", "../shared/data"))
OUT = Path(__file__).parent / "out" / "speech_gate.json"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPEAKERS = ["george", "jackson", "lucas", "theo"]
NO_SPEECH = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
LOGPROB = [-3.0, -2.0, -1.5, -1.2, -1.0, -0.8, -0.6, -0.5, -0.4, -0.3]
VAD = [0.5, 0.6, 0.7]
BEFORE = (0.5, 1.0, float("-inf"), float("inf"))


def esc50_clips() -> dict[str, list[Path]]:
    """{"tune": first clip of each class, "report": second clip of each class}."""
    by_class = defaultdict(list)
    with (DATA / "esc50" / "esc50.csv").open() as file:
        for row in sorted(csv.DictReader(file), key=lambda row: row["filename"]):
            by_class[row["category"]].append(DATA / "esc50" / "audio" / row["filename"])
    return {"tune": [c[0] for c in by_class.values()], "report": [c[1] for c in by_class.values()]}


def fsdd_clips() -> dict[str, list[tuple[Path, int]]]:
    folder = DATA / "fsdd" / "recordings"
    return {half: [(folder / f"{d}_{s}_{take}.wav", d) for d in range(10) for s in SPEAKERS]
            for half, take in (("tune", 0), ("report", 1))}


def decoded(transcriber: Transcriber, path: Path) -> list[tuple[str, float, float, float]]:
    return [(s.text, c.no_speech_prob, c.avg_logprob, c.compression_ratio)
            for s, c in transcriber.decode(read_audio(path))]


def kept(by_vad: dict[float, list], vad: float, max_no_speech: float, min_logprob: float,
         max_compression: float) -> str:
    return " ".join(text for text, no_speech, logprob, compression in by_vad[vad] if no_speech <= max_no_speech
                    and logprob >= min_logprob and compression <= max_compression).lower()


def says(text: str, digit: int) -> bool:
    return DIGITS[digit] in text or str(digit) in text


def shares(esc, fsdd, gate: tuple[float, float, float, float]) -> dict[str, float]:
    noise = sum(bool(kept(segments, *gate)) for segments in esc) / len(esc)
    digits = sum(says(kept(segments, *gate), digit) for segments, digit in fsdd) / len(fsdd)
    return {"noise_transcribed": noise, "digit_kept": digits}


def tuned(esc, fsdd) -> tuple[float, float, float, float]:
    """The gate with the most digits kept minus noise transcribed; among equals, the most lenient."""
    def score(gate):
        found = shares(esc, fsdd, gate)
        return found["digit_kept"] - found["noise_transcribed"], -gate[0], gate[1], -gate[2]
    grid = itertools.product(VAD, NO_SPEECH, LOGPROB, [MAX_COMPRESSION_RATIO])
    return max(grid, key=score)


def transcribed(paths: list[Path]) -> list[dict[float, list]]:
    """Each clip's segments at each VAD threshold."""
    transcribers = {vad: Transcriber(vad_threshold=vad) for vad in VAD}
    return [{vad: decoded(transcriber, path) for vad, transcriber in transcribers.items()} for path in paths]


def main() -> None:
    started = time.perf_counter()
    esc = {half: transcribed(paths) for half, paths in esc50_clips().items()}
    fsdd = {half: list(zip(transcribed([path for path, _ in clips]), [digit for _, digit in clips], strict=True))
            for half, clips in fsdd_clips().items()}
    seconds = time.perf_counter() - started
    gate = tuned(esc["tune"], fsdd["tune"])
    rows = {name: {half: shares(esc[half], fsdd[half], setting) for half in ("tune", "report")}
            for name, setting in (("before (VAD 0.5, no gate)", BEFORE), ("after (tuned gate)", gate))}
    print(f"tuned on the tune half: vad_threshold={gate[0]}, max_no_speech_prob={gate[1]}, "
          f"min_avg_logprob={gate[2]}, max_compression_ratio={gate[3]}")
    print(f"{'':27}{'half':>8}{'ESC-50 noise transcribed':>27}{'FSDD digit kept':>18}")
    for name, halves in rows.items():
        for half, found in halves.items():
            print(f"{name:27}{half:>8}{found['noise_transcribed']:>27.3f}{found['digit_kept']:>18.3f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
        "cpus": os.cpu_count(), "transcribe_seconds": round(seconds, 1), "esc50_clips": len(esc["tune"]) * 2,
        "fsdd_clips": len(fsdd["tune"]) * 2, "gate": dict(zip(("vad_threshold", "max_no_speech_prob", "min_avg_logprob", "max_compression_ratio"), gate)),
        "results": rows, "segments": {"esc50": esc, "fsdd": fsdd}}, indent=1))
    print(f"transcribed {len(esc['tune']) * 2 + len(fsdd['tune']) * 2} clips in {seconds:.0f} s; wrote {OUT}")


if __name__ == "__main__":
    main()
