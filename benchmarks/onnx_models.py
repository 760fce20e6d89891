"""Exported ONNX models against their PyTorch source, side by side in one run: size on disk, load time (fresh
process, load + one text), text and image encode speed, and agreement (the export's probe-batch min cosine).

Models: the offline pack (`offline`: MiniLM-L6 + EfficientNet-Lite0) and a CLIP with the ViT-B/32 sizes and random
weights (no hub here; speed does not depend on the values), each exported as fp32 and with --int8 (a tower
stays fp32 where int8 does not agree to 0.99). PyTorch runs at precision auto (bf16 where the CPU has it and the
probe agrees). Texts: flickr8k-500 captions; images: flickr8k-500 JPEGs, prepared once (the timing is the model).

Usage: python benchmarks/onnx_models.py [--texts N] [--images N] [--repeats R]   (data: $MMR_DATA_DIR)
Prints a table and writes benchmarks/out/onnx_models.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from embed_throughput import save_vit_b32_clip

from mmret.encoders.loader import load_encoder
from mmret.encoders.onnx_export import export_model

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out" / "onnx_models.json"
BATCH = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts, images = _texts(args.texts), sorted((DATA / "flickr8k-500" / "images").glob("*.jpg"))[:args.images]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip-vit-b32-random"
        save_vit_b32_clip(clip)
        for name, source in (("offline-bridge", "offline-bridge"), ("CLIP ViT-B/32", str(clip))):
            rows.append(_measure(f"{name} PyTorch", source, None, texts, images, args.repeats))
            for int8 in (False, True):
                folder = Path(tmp) / f"{Path(source).name}-{'int8' if int8 else 'fp32'}"
                reports = export_model(source, folder, int8=int8)
                label = f"{name} ONNX {'--int8' if int8 else 'fp32'}"
                rows.append(_measure(label, str(folder), reports, texts, images, args.repeats))
    print(_table(rows, len(texts), len(images)))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": platform.platform(), "cpus": os.cpu_count(), "load": os.getloadavg(),
                               "texts": len(texts), "images": len(images), "repeats": args.repeats, "rows": rows},
                              indent=2) + "\n")


def _texts(n: int) -> list[str]:
    records = json.loads((DATA / "flickr8k-500" / "captions.json").read_text(encoding="utf-8"))
    return [caption for record in records for caption in record["captions"]][:n]


def _measure(label: str, model: str, reports, texts: list[str], images: list[Path], repeats: int) -> dict:
    from PIL import Image

    encoder = load_encoder(model)
    prepare = encoder.preparer("image")
    pixels = np.stack([prepare(Image.open(path)) for path in images])
    encoder.embed_prepared("text", texts[:BATCH]), encoder.embed_prepared("image", pixels[:4])  # warm-up
    text_s = _median_seconds(lambda: [encoder.embed_prepared("text", texts[i:i + BATCH])
                                      for i in range(0, len(texts), BATCH)], repeats)
    image_s = _median_seconds(lambda: [encoder.embed_prepared("image", pixels[i:i + BATCH])
                                       for i in range(0, len(pixels), BATCH)], repeats)
    files = [p for p in Path(model).glob("*") if p.is_file()] if Path(model).is_dir() else []
    return {"model": label, "megabytes": round(sum(p.stat().st_size for p in files) / 1e6, 1) if files else None,
            "load_s": _load_seconds(model, repeats), "texts_per_s": len(texts) / text_s,
            "images_per_s": len(images) / image_s,
            "towers": [vars(r) for r in reports] if reports else None}


def _median_seconds(run, repeats: int) -> float:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _load_seconds(model: str, repeats: int) -> float:
    """Median wall time of a fresh process that loads the model and embeds one text (imports included)."""
    script = f"from mmret.encoders.loader import load_encoder; load_encoder({model!r}).encode('text', ['a dog'])"
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _table(rows: list[dict], n_texts: int, n_images: int) -> str:
    header = (f"{'model':<28}{'MB':>8}{'load s':>8}{'texts/s':>9}{'images/s':>10}  "
              "agreement (text / image; int8 towers marked *)")
    lines = [f"{n_texts} captions and {n_images} prepared JPEGs of flickr8k-500, batches of {BATCH}, medians", header]
    for r in rows:
        towers = " / ".join(f"{t['agreement']:.4f}{'*' if t['int8'] else ''}" for t in r["towers"] or [])
        size = "-" if r["megabytes"] is None else f"{r['megabytes']:.1f}"
        lines.append(f"{r['model']:<28}{size:>8}{r['load_s']:>8.2f}{r['texts_per_s']:>9.1f}"
                     f"{r['images_per_s']:>10.1f}  {towers or 'source'}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
