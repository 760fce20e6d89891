"""What `mmret index --ocr` costs on photos: seconds per photo indexed with and without reading text, in one run.

The photos: the first --photos coco-mini val2017 photos (everyday scenes, some with signs and labels), indexed with
the offline model into two temp collections, first without OCR (the peer: the default) and then with it; each
timing includes the model already loaded (a warm-up collection of 4 photos is indexed first). Also reported: how
many photos had legible text (so gained words and a blended vector).

Usage: python benchmarks/photo_ocr.py [--photos 40]
Prints a table and writes benchmarks/out/photo_ocr.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from mmret import Collection, load_encoder
from mmret.media.timed_settings import TimedSettings

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out"


def timed_index(encoder, photos: Path, work: Path, name: str, ocr: bool) -> tuple[float, Collection]:
    collection = Collection.open(work / name, encoder)
    started = time.perf_counter()
    collection.add([photos], workers=0, timed=TimedSettings(ocr=ocr))
    return time.perf_counter() - started, collection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    encoder = load_encoder("offline")
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        photos, warm = work / "photos", work / "warm"
        photos.mkdir()
        warm.mkdir()
        chosen = sorted((DATA / "coco-mini" / "val2017").glob("*.jpg"))[:args.photos + 4]
        for photo in chosen[:4]:
            shutil.copy(photo, warm)
        for photo in chosen[4:]:
            shutil.copy(photo, photos)
        timed_index(encoder, warm, work, "warm", ocr=True)  # models loaded: both timings below are warm
        plain, _ = timed_index(encoder, photos, work, "plain", ocr=False)
        read, collection = timed_index(encoder, photos, work, "ocr", ocr=True)
        with_text = sum(1 for record in collection.store.records() if record.text)
    count = len(chosen) - 4
    rows = [{"index": "without --ocr (default)", "seconds": round(plain, 2), "ms_per_photo": round(1000 * plain / count)},
            {"index": "with --ocr", "seconds": round(read, 2), "ms_per_photo": round(1000 * read / count)}]
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
              "cpus": os.cpu_count(), "photos": count, "photos_with_text": with_text, "rows": rows,
              "ocr_cost_ratio": round(read / plain, 2)}
    print(f"{count} coco-mini photos, offline model, warm ({os.cpu_count()} CPUs)")
    print(f"{'index':<26}{'seconds':>10}{'ms/photo':>10}")
    for row in rows:
        print(f"{row['index']:<26}{row['seconds']:>10}{row['ms_per_photo']:>10}")
    print(f"with --ocr / without: {result['ocr_cost_ratio']}x; photos with legible text: {with_text}/{count}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "photo_ocr.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
