"""Audio retrieval on ESC-50 fold 4 and FSDD, every method measured side by side in one run.

ESC-50 (fold 4 of the shared set: 8 clips for each of 50 classes, resampled to 16 kHz):
- audio->audio same-class mAP and text->audio mAP (class-name queries, embedded by the offline MiniLM tower)
  for the trained audio tower under 5-fold cross-validation over the clips (each class's 8 clips dealt into
  5 folds; a tower is trained on 4 folds and queried with the 5th, so no clip is both trained on and a query).
  audio->audio: held-out queries against every other clip; text->audio: class names against the held-out clips;
- the same figures for the untrained tower and a plain log-mel baseline (time-averaged log-mel, centred, cosine),
  over the same queries and galleries.
FSDD (takes 0-4 of each speaker and digit, 300 clips): clips transcribed by the bundled Whisper tiny.en and
embedded by MiniLM; text ("seven") -> spoken digit R@1 and mAP; spoken digit -> same digit mAP (self excluded).

Usage: python benchmarks/audio_retrieval.py [--epochs N] [--only esc50|fsdd]   (data: $MMR_DATA_DIR, default
../shared/data)
Prints a table and writes benchmarks/out/audio_retrieval.json (audio_retrieval-<only>.json with --only).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from mmret.data.audio import read_audio
from mmret.encoders.audio_tower import (
    AudioTower,
    LogMel,
    TowerConfig,
)
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.speech import SpeechEncoder
from mmret.eval.metrics import Ranking, mean_metrics
from mmret.training.audio_tower_fit import TrainSettings, train_tower

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
FOLDS = 5
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def load_esc50(rate: int) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    rows = [r for r in csv.DictReader((DATA / "esc50" / "esc50.csv").open()) if r["fold"] == "4"]
    rows.sort(key=lambda r: (int(r["target"]), r["filename"]))
    names = [n for _, n in sorted({(int(r["target"]), r["category"]) for r in rows})]
    clips = np.stack([read_audio(DATA / "esc50" / "audio" / r["filename"], rate).samples for r in rows])
    labels = np.array([names.index(r["category"]) for r in rows])
    return torch.from_numpy(clips), labels, [n.replace("_", " ") for n in names]


def cv_folds(labels: np.ndarray) -> np.ndarray:
    """Fold of each clip: every class's clips dealt round-robin into FOLDS folds."""
    fold = np.zeros(len(labels), dtype=int)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        fold[members] = np.arange(len(members)) % FOLDS
    return fold


def audio_to_audio(vectors: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> float:
    scores = vectors[queries] @ vectors.T
    relevance = labels[queries][:, None] == labels[None, :]
    exclude = queries[:, None] == np.arange(len(labels))[None, :]
    return mean_metrics(Ranking.from_scores(scores, relevance, exclude), ["mAP"])["mAP"]


def text_to_audio(text: np.ndarray, vectors: np.ndarray, labels: np.ndarray, gallery: np.ndarray) -> float:
    relevance = np.arange(len(text))[:, None] == labels[gallery][None, :]
    return mean_metrics(Ranking.from_scores(text @ vectors[gallery].T, relevance), ["mAP"])["mAP"]


def tower_vectors(tower: AudioTower, clips: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([tower.eval()(chunk) for chunk in clips.split(50)]).numpy()


def log_mel_vectors(clips: torch.Tensor, config: TowerConfig) -> np.ndarray:
    with torch.inference_mode():
        mean = LogMel(config)(clips).mean(dim=-1).flatten(1).numpy()
    centred = mean - mean.mean(axis=0)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def esc50(text_encoder: OfflineEncoder, settings: TrainSettings) -> dict:
    config = TowerConfig()
    clips, labels, names = load_esc50(config.rate)
    text = text_encoder.encode("text", names)
    folds = cv_folds(labels)
    torch.manual_seed(0)
    fixed = {"log-mel + cosine": log_mel_vectors(clips, config), "untrained tower": tower_vectors(AudioTower(config), clips)}
    scores = {name: {"audio->audio": [], "text->audio": []} for name in ("trained tower (5-fold CV)", *fixed)}
    started = time.perf_counter()
    for k in range(FOLDS):
        held, train = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        tower = train_tower(clips[train], torch.from_numpy(labels[train]), torch.from_numpy(text), settings, config)
        per_method = {"trained tower (5-fold CV)": tower_vectors(tower, clips), **fixed}
        for name, vectors in per_method.items():
            scores[name]["audio->audio"].append(audio_to_audio(vectors, labels, held))
            scores[name]["text->audio"].append(
                text_to_audio(text, vectors, labels, held) if name != "log-mel + cosine" else float("nan"))
        print(f"  fold {k + 1}/{FOLDS} trained in {time.perf_counter() - started:.0f} s", flush=True)
    return {name: {task: float(np.mean(v)) for task, v in tasks.items()} for name, tasks in scores.items()}


def fsdd(text_encoder: OfflineEncoder) -> dict:
    paths = sorted((DATA / "fsdd" / "recordings").glob("*.wav"))
    paths = [p for p in paths if int(p.stem.split("_")[2]) < 5]
    labels = np.array([int(p.stem.split("_")[0]) for p in paths])
    speech = SpeechEncoder(text_encoder)
    started = time.perf_counter()
    audio = speech.encode("audio", [read_audio(p) for p in paths])
    seconds = time.perf_counter() - started
    queries = speech.encode("text", list(DIGITS))
    text = Ranking.from_scores(queries @ audio.T, np.arange(10)[:, None] == labels[None, :])
    return {"clips": len(paths), "transcribe+embed clips/s": len(paths) / seconds,
            "text->audio": mean_metrics(text, ["R@1", "mAP"]),
            "audio->audio": {"mAP": audio_to_audio(audio, labels, np.arange(len(labels)))}}


def table(esc: dict, digits: dict) -> str:
    lines = ["ESC-50 fold 4 (400 clips, 50 classes)   audio->audio mAP   text->audio mAP"] if esc else []
    for name, row in esc.items():
        t2a = "-" if np.isnan(row["text->audio"]) else f"{row['text->audio']:.3f}"
        lines.append(f"  {name:<37}{row['audio->audio']:>17.3f}{t2a:>17}")
    if not digits:
        return "\n".join(lines)
    lines += [f"FSDD takes 0-4 ({digits['clips']} clips), Whisper tiny.en + MiniLM transcripts",
              f"  text->audio R@1 {digits['text->audio']['R@1']:.3f}   mAP {digits['text->audio']['mAP']:.3f}",
              f"  audio->audio (same digit) mAP {digits['audio->audio']['mAP']:.3f}",
              f"  {digits['transcribe+embed clips/s']:.1f} clips/s transcribed and embedded"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    parser.add_argument("--only", choices=("esc50", "fsdd"), help="run one of the two data sets")
    args = parser.parse_args()
    torch.set_num_threads(2)
    text_encoder = OfflineEncoder()
    esc = esc50(text_encoder, TrainSettings(epochs=args.epochs)) if args.only != "fsdd" else {}
    digits = fsdd(text_encoder) if args.only != "esc50" else {}
    print(table(esc, digits))
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "epochs": args.epochs, "esc50": esc, "fsdd": digits}
    name = f"audio_retrieval-{args.only}.json" if args.only else "audio_retrieval.json"
    (OUT / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
