"""Peak memory of indexing one video against its length: decoding streams, so a 10x longer video should not need
10x the memory.

Writes slideshow videos (320x240, 12 fps, H.264 + AAC of a 440 Hz tone; a new flickr8k-500 photo every 4 s) of
each length, then indexes each in a fresh child process (`offline`, or `--model offline+speech`) and reads the
child's peak resident set size (ru_maxrss). Side by side in one run: the peak for each length, and the ratio
to the shortest.

Usage: HF_HUB_OFFLINE=1 python benchmarks/video_memory.py [--minutes 2 10 30] [--model offline]
Prints a table and writes benchmarks/out/video_memory.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"
FPS, SIZE, SHOT_SECONDS, RATE = 12, (320, 240), 4, 24_000
CHILD = """
import resource, sys, time
from mmret import Collection
collection = Collection.open(sys.argv[1], sys.argv[3])
started = time.perf_counter()
report = collection.add([sys.argv[2]])
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(collection), report.added)
"""


def write_video(path: Path, minutes: float, photos: list[Path]) -> Path:
    import av
    from PIL import Image

    shots = round(minutes * 60 / SHOT_SECONDS)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "30"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        audio = container.add_stream("aac", rate=RATE, layout="mono")
        for shot in range(shots):
            frame = av.VideoFrame.from_image(Image.open(photos[shot % len(photos)]).convert("RGB").resize(SIZE))
            for _ in range(FPS * SHOT_SECONDS):
                container.mux(video.encode(frame))
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SHOT_SECONDS * RATE) / RATE)).astype(np.float32)
            sound = av.AudioFrame.from_ndarray(tone[None], format="flt", layout="mono")
            sound.sample_rate = RATE
            container.mux(audio.encode(sound))
        container.mux(video.encode())
        container.mux(audio.encode())
    return path


def index_in_child(video: Path, model: str, work: Path) -> dict:
    collection = work / f"collection-{video.stem}"
    result = subprocess.run([sys.executable, "-c", CHILD, str(collection), str(video), model], capture_output=True,
                            text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds, peak_kib, stored, added = result.stdout.split()[-4:]
    return {"index s": float(seconds), "peak RSS MiB": int(peak_kib) / 1024, "records": int(stored),
            "files added": int(added)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2, 10, 30])
    parser.add_argument("--model", default="offline")
    args = parser.parse_args()
    photos = sorted((DATA / "flickr8k-500" / "images").glob("*.jpg"))[:60]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for minutes in args.minutes:
            started = time.perf_counter()
            video = write_video(work / f"long-{minutes:g}min.mp4", minutes, photos)
            written = time.perf_counter() - started
            rows[minutes] = {"MB on disk": video.stat().st_size / 1e6, "write s": written,
                             **index_in_child(video, args.model, work)}
    base = rows[min(rows)]["peak RSS MiB"]
    print(f"model {args.model}: one video indexed in a fresh process")
    print(f"{'minutes':>8} {'MB':>7} {'index s':>8} {'video-s/s':>10} {'records':>8} {'peak RSS MiB':>13} {'vs shortest':>12}")
    for minutes, row in rows.items():
        row["video-s/s"] = minutes * 60 / row["index s"]
        row["peak vs shortest"] = row["peak RSS MiB"] / base
        print(f"{minutes:>8g} {row['MB on disk']:>7.1f} {row['index s']:>8.1f} {row['video-s/s']:>10.1f} "
              f"{row['records']:>8} {row['peak RSS MiB']:>13.0f} {row['peak vs shortest']:>11.2f}x")
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "model": args.model, "rows": {f"{m:g} min": r for m, r in rows.items()}}
    (OUT / "video_memory.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
