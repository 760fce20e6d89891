"""Text -> video segment retrieval on test videos built from the shared photos and sounds, every configuration
measured side by side in one run through the product path (Collection.add / Collection.search).

The video set (mmret.eval.video_set, formats mp4/webm/mkv cycled, the builder's other defaults): each video is
3-6 shots, a shot one flickr8k-500 photo with its 5 captions, about half with an ESC-50 clip or a spoken FSDD
digit. Built once into benchmarks/out/videos-N-seedS and reused while its truth.json exists.

Figures
- decode: iter_shots over every video (streamed decode + shot detection, default settings), video-seconds per
  wall second, overall and per container; also the true cuts found (a detected boundary within 0.1 s) and the
  spurious ones.
- index v-s/s: total video seconds / wall seconds of Collection.add into a fresh collection (model load and
  attention training excluded).
- queries: every caption of every shot (5 per shot); a query's truth is its shot in its video.
  vid R@1/R@5: per_file=True, a hit is the right video in the top 1/5.
  seg R@1/R@5: per_file=False, a hit is a segment of the right video whose [start, end] overlaps the true shot.
  overlap / IoU: among per-file top-1 hits on the right video, the fraction whose range overlaps the true shot
  and the mean IoU of the range with the true shot. "Overlaps" means an intersection longer than 1 ms.
- configurations: offline mean pooling (the default); offline with one keyframe per shot; offline with
  AttentionPooling trained on the first half of the videos (shared-space keyframe vectors of the iter_shots
  shots -> the normalised mean of the text vectors of the shot's captions; a detected shot takes the captions of
  the true shot it overlaps most), queried on the second half only, beside mean and one-keyframe on the same
  second-half queries; offline+speech (Whisper tiny.en transcripts) with mean pooling; offline+speech+tower,
  adding a sound tower trained by `train_audio_tower` (the `mmret train-audio` path, default settings, no
  holdout) on the ESC-50 fold-4 clips that no video uses (cached in benchmarks/out/tower-videos-N-seedS).
- digits (models with speech): one query per shot whose sound is a spoken digit, the digit word ("seven").
  sound (the model with the tower): one query per shot with an ESC-50 clip, "the sound of {category}";
  sound-only: the same queries with the filter segment=sound (only sound windows compete).
  Several shots may share a label, so a query's truth is every shot with that label: R@1 counts a per-file
  top-1 hit on any video with such a shot, overlap the fraction of those hits whose range overlaps one of
  that video's shots with the label.
- fused paths (the model with the tower): the same collection after `Collection.calibrate` (mmret.fusion.PathFusion:
  each path's scores calibrated, plus the log-probability a router gives the hit's path for the query), fitted on
  example queries none of which is reported: the first caption of each flickr8k-500 photo no video shows (shot),
  "the sound of X" for the ESC-50 categories no video carries (sound) and the collection's own transcripts
  (speech). The row beside it is the same collection before calibrating.

Usage: HF_HUB_OFFLINE=1 python benchmarks/video_retrieval.py [--videos N] [--seed S] [--tower-epochs E]   (data: $MMR_DATA_DIR)
Prints a table and writes benchmarks/out/video_retrieval.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from mmret import Collection
from mmret.data.audio import Waveform
from mmret.data.video import iter_shots
from mmret.encoders.audio_tower import is_audio_tower_dir
from mmret.encoders.base import SHARED, l2_normalise
from mmret.eval.video_set import DIGITS, build_video_set, load_video_set
from mmret.media.timed_settings import TimedSettings
from mmret.models import load_encoder
from mmret.training.audio_tower_fit import TrainSettings
from mmret.training.audio_tower_run import train_audio_tower
from mmret.training.pooling_fit import train_attention_pooling

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
FORMATS = ("mp4", "webm", "mkv")
CUT_TOLERANCE = 0.1  # seconds


def video_set(n: int, seed: int) -> list:
    folder = OUT / f"videos-{n}-seed{seed}"
    if (folder / "truth.json").exists():
        return load_video_set(folder)
    return build_video_set(folder, DATA / "flickr8k-500" / "captions.json", n, seed, esc50_dir=DATA / "esc50",
                           fsdd_dir=DATA / "fsdd", formats=FORMATS)


def length(video) -> float:
    return video.shots[-1].end


def intersection(a: tuple, b: tuple) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def overlaps(a: tuple, b: tuple) -> bool:
    return intersection(a, b) > 1e-3


def iou(a: tuple, b: tuple) -> float:
    inter = intersection(a, b)
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def decode(videos: list) -> tuple[dict, list]:
    """Decode throughput (overall and per format), cut detection, and the detected shots of every video."""
    seconds, wall, all_shots = defaultdict(float), defaultdict(float), []
    found = spurious = true_cuts = 0
    for video in videos:
        started = time.perf_counter()
        shots = list(iter_shots(video.path))
        fmt = Path(video.path).suffix[1:]
        wall[fmt] += time.perf_counter() - started
        seconds[fmt] += length(video)
        all_shots.append(shots)
        truth, detected = [s.start for s in video.shots[1:]], [s.start for s in shots[1:]]
        true_cuts += len(truth)
        found += sum(any(abs(t - d) <= CUT_TOLERANCE for d in detected) for t in truth)
        spurious += sum(all(abs(t - d) > CUT_TOLERANCE for t in truth) for d in detected)
    rates = {fmt: seconds[fmt] / wall[fmt] for fmt in seconds}
    return {"video-s/s": sum(seconds.values()) / sum(wall.values()), "per format video-s/s": rates,
            "true cuts": true_cuts, "cuts found": found, "spurious cuts": spurious}, all_shots


def train_pooling(encoder, videos: list, shots: list):
    """AttentionPooling fitted on detected shots -> the mean caption vector of the true shot they overlap most."""
    frames, targets = [], []
    for video, detected in zip(videos, shots):
        for shot in detected:
            truth = max(video.shots, key=lambda t: intersection((t.start, t.end), (shot.start, shot.end)))
            frames.append(encoder.encode("image", shot.frames, SHARED))
            targets.append(encoder.encode("text", truth.captions, SHARED).mean(0))
    return train_attention_pooling(frames, l2_normalise(np.stack(targets)))


def warm_up(encoder) -> None:
    """One tiny pass through every tower (Whisper loads on first use), so that indexing times exclude loading."""
    from PIL import Image

    encoder.encode("image", [Image.new("RGB", (64, 64), "grey")])
    encoder.encode("text", ["warm up"])
    if "audio" in encoder.modalities:
        noise = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
        encoder.encode("audio", [Waveform(noise, 16_000)])


def index(model, videos: list, folder: Path, timed: TimedSettings) -> tuple[Collection, float]:
    coll = Collection.open(folder, model)
    started = time.perf_counter()
    report = coll.add([Path(v.path).resolve() for v in videos], timed=timed)
    wall = time.perf_counter() - started
    if report.skipped:
        raise RuntimeError(f"videos skipped while indexing: {report.skipped}")
    return coll, sum(length(v) for v in videos) / wall


def span(hit) -> tuple[float, float]:
    return hit.record.metadata["start"], hit.record.metadata["end"]


def caption_outcomes(coll: Collection, videos: list, chosen: range) -> dict[int, list[dict]]:
    """Per video index, one outcome per caption query: the searches are run once and summarised per query set."""
    out = defaultdict(list)
    for i in chosen:
        path = str(Path(videos[i].path).resolve())
        for shot in videos[i].shots:
            true = (shot.start, shot.end)
            for caption in shot.captions:
                files = coll.search(text=caption, k=5)
                segments = coll.search(text=caption, k=5, per_file=False)
                right = [h.record.path == path for h in files]
                good = [h.record.path == path and overlaps(span(h), true) for h in segments]
                row = {"vid R@1": right[0], "vid R@5": any(right), "seg R@1": good[0], "seg R@5": any(good)}
                if right[0]:
                    row.update(overlap=overlaps(span(files[0]), true), IoU=iou(span(files[0]), true))
                out[i].append(row)
    return out


def caption_metrics(outcomes: dict[int, list[dict]], chosen: range) -> dict:
    """Video and segment R@1/R@5 and the overlap of per-file top-1 hits, over the queries of the chosen videos."""
    rows = [row for i in chosen for row in outcomes[i]]
    out = {name: float(np.mean([r[name] for r in rows if name in r]))
           for name in ("vid R@1", "vid R@5", "seg R@1", "seg R@5", "overlap", "IoU")}
    return {**out, "queries": len(rows), "top-1 on right video": sum("overlap" in r for r in rows)}


def label_metrics(coll: Collection, videos: list, kind: str, where: dict | None = None, name: str | None = None) -> dict:
    """Queries by a shot's sound label: the digit word for spoken digits ("digit"), "the sound of {label}" for
    ESC-50 clips ("sound"), optionally with a search filter. Truth is every shot with that label (several shots
    may share one)."""
    name = name or kind
    having = defaultdict(lambda: defaultdict(list))  # label -> video path -> true ranges
    for video in videos:
        for shot in video.shots:
            if shot.sound_label and (shot.sound_label in DIGITS) == (kind == "digit"):
                having[shot.sound_label][str(Path(video.path).resolve())].append((shot.start, shot.end))
    hits, overlap, kinds = [], [], defaultdict(int)
    for label, truth in having.items():
        query = label if kind == "digit" else f"the sound of {label}"
        top = coll.search(text=query, k=1, where=where)[0]
        for _ in range(sum(len(r) for r in truth.values())):  # one query per shot with the label
            hits.append(top.record.path in truth)
            kinds[top.record.metadata.get("segment", "file")] += 1
            if hits[-1]:
                overlap.append(any(overlaps(span(top), r) for r in truth[top.record.path]))
    return {f"{name} queries": len(hits), f"{name} R@1": float(np.mean(hits)) if hits else float("nan"),
            f"{name} overlap": float(np.mean(overlap)) if overlap else float("nan"),
            f"{name} top-1 segment kinds": dict(kinds)}


def sound_tower(videos: list, n: int, seed: int, encoder, epochs: int) -> Path:
    """A sound tower trained (`train_audio_tower`, the `mmret train-audio` path) on the ESC-50 fold-4 clips that
    no video uses, so no sound query hears a clip the tower was trained on; cached in benchmarks/out."""
    folder = OUT / f"tower-videos-{n}-seed{seed}"
    if is_audio_tower_dir(folder):
        return folder
    used = {Path(s.sound).name for v in videos for s in v.shots if s.sound and s.sound.endswith(".flac")}
    with (DATA / "esc50" / "esc50.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["fold"] == "4" and r["filename"] not in used]
    table = OUT / f"esc50-not-in-videos-{n}-seed{seed}.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows([DATA / "esc50" / "audio" / r["filename"], r["category"]] for r in rows)
    train_audio_tower(f"labels:{table}", folder, encoder, TrainSettings(epochs=epochs), holdout=0.0)
    return folder


def path_examples(videos: list) -> dict[str, list[str]]:
    """Example queries for fitting the path fusion, none of them a reported query: the first caption of every
    flickr8k-500 photo that no video shows (shots) and "the sound of X" for the ESC-50 categories that no video
    carries (sound windows); speech takes the collection's own transcripts (Collection.calibrate's default)."""
    shown = {Path(s.image).name for v in videos for s in v.shots}
    photos = json.loads((DATA / "flickr8k-500" / "captions.json").read_text(encoding="utf-8"))
    with (DATA / "esc50" / "esc50.csv").open() as handle:
        categories = sorted({r["category"] for r in csv.DictReader(handle)})
    heard = {s.sound_label for v in videos for s in v.shots if s.sound_label}
    return {"shot": [p["captions"][0] for p in photos if Path(p["image"]).name not in shown],
            "sound": [f"the sound of {c}" for c in categories if c not in heard]}


def fused_paths_metrics(coll: Collection, videos: list, rate: float) -> dict:
    """The same collection after Collection.calibrate: every query again, now through the fused paths."""
    examples = path_examples(videos)
    coll.calibrate(examples)
    row = {**caption_metrics(caption_outcomes(coll, videos, range(len(videos))), range(len(videos))),
           "index v-s/s": rate, "fit examples": {p: len(q) for p, q in examples.items()}}
    for kind in ("digit", "sound"):
        row.update(label_metrics(coll, videos, kind))
    row.update(label_metrics(coll, videos, "sound", {"segment": "sound"}, "sound-only"))
    return row


COLUMNS = ("queries", "vid R@1", "vid R@5", "seg R@1", "seg R@5", "overlap", "IoU", "index v-s/s",
           "digit R@1", "digit overlap", "sound R@1", "sound overlap", "sound-only R@1", "sound-only overlap")


def table(decoded: dict, rows: dict) -> str:
    per_fmt = "  ".join(f"{f} {r:.1f}" for f, r in decoded["per format video-s/s"].items())
    widths = [max(len(c), 7) + 2 for c in COLUMNS]
    lines = [(f"decode (iter_shots): {decoded['video-s/s']:.1f} video-s/s ({per_fmt}); cuts found "
              f"{decoded['cuts found']}/{decoded['true cuts']}, spurious {decoded['spurious cuts']}"),
             f"{'configuration':<44}" + "".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths))]
    for name, row in rows.items():
        cells = [row.get(c) for c in COLUMNS]
        lines.append(f"{name:<44}" + "".join(
            f"{'-':>{w}}" if v is None else f"{v:>{w}d}" if isinstance(v, int) else f"{v:>{w}.3f}"
            for v, w in zip(cells, widths)))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tower-epochs", type=int, default=TrainSettings.epochs)
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    videos = video_set(args.videos, args.seed)
    decoded, shots = decode(videos)
    half = len(videos) // 2
    everything, second = range(len(videos)), range(half, len(videos))
    offline = load_encoder("offline")
    t0 = time.perf_counter()
    pooling = train_pooling(offline, videos[:half], shots[:half])
    train_seconds = time.perf_counter() - t0
    configs = {"offline mean": ("offline", TimedSettings()),
               "offline 1 keyframe": ("offline", TimedSettings(video={"max_keyframes": 1})),
               "offline attention": ("offline", TimedSettings(pooling=pooling)),
               "offline+speech mean": ("offline+speech", TimedSettings()),
               "offline+speech+tower mean": ("offline+speech+tower", TimedSettings())}
    tower = sound_tower(videos, args.videos, args.seed, offline, args.tower_epochs)
    models = {"offline": offline, "offline+speech": load_encoder("offline+speech"),
              "offline+speech+tower": load_encoder(f"offline+speech+audio-tower:{tower}")}
    for encoder in models.values():
        warm_up(encoder)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, timed) in configs.items():
            coll, rate = index(models[model], videos, Path(tmp) / name.replace(" ", "-"), timed)
            print(f"  indexed {name}: {rate:.1f} video-s/s", flush=True)
            trained = name == "offline attention"  # on the first half: queried on the second only
            outcomes = caption_outcomes(coll, videos, second if trained else everything)
            if not trained:
                rows[f"{name} [all]"] = {**caption_metrics(outcomes, everything), "index v-s/s": rate}
            if model == "offline":
                rows[f"{name} [2nd half]"] = {**caption_metrics(outcomes, second), "index v-s/s": rate}
            if model != "offline":
                rows[f"{name} [all]"].update(label_metrics(coll, videos, "digit"))
            if model == "offline+speech+tower":
                rows[f"{name} [all]"].update(label_metrics(coll, videos, "sound"))
                rows[f"{name} [all]"].update(label_metrics(coll, videos, "sound", {"segment": "sound"}, "sound-only"))
                rows[f"{name} fused paths [all]"] = fused_paths_metrics(coll, videos, rate)
    order = [k for k in rows if k.endswith("[all]")] + [k for k in rows if k.endswith("[2nd half]")]
    rows = {k: rows[k] for k in order}
    print(table(decoded, rows))
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "videos": len(videos), "seed": args.seed,
              "video seconds": sum(length(v) for v in videos), "shots": sum(len(v.shots) for v in videos),
              "query videos": {"all": len(videos), "2nd half": len(videos) - half},
              "attention training s": train_seconds, "decode": decoded, "configurations": rows,
              "wall s": time.perf_counter() - started}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "video_retrieval.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
