"""End-to-end image embedding throughput from JPEG files: mmret's pipeline against the plain transformers loop.

Side by side in one run, on the flickr8k-500 JPEGs:
  - mmret, CLIP ViT-B/32: HFEncoder (precision auto) through `mmret.media.batches.embed_items` (decoding and
    preparation in background workers);
  - plain, CLIP ViT-B/32: the loop a user would write: Image.open(...).convert("RGB") in the main process,
    CLIPImageProcessorPil, model.get_image_features in fp32, batches of 32;
  - mmret, offline pack: the offline encoder's image tower through the same pipeline, with each of its two
    image towers (`offline`: EfficientNet-Lite0 at 224 px; `offline-lite2`: EfficientNet-Lite2 at 260 px);
  - mmret, offline pack exported to ONNX (`mmret export-model offline --format onnx`, fp32: int8 EfficientNet
    does not hold the 0.99 agreement) through the same pipeline, against the offline pack in PyTorch.
`--offline-only` runs the offline Lite0 pair alone (PyTorch first, ONNX second, alternating).
The CLIP has the real ViT-B/32 sizes with random weights (no hub here); speed does not depend on the values.
Throughput is the median of `--repeats` runs. The two CLIP paths run back to back in alternating order, and
'paired' is the median ratio of those back-to-back runs, which load from other processes on a shared machine
distorts least. The agreement column is the smallest cosine between the mmret and the plain embeddings of the
same image.

Usage: python benchmarks/embed_throughput.py [--limit N] [--repeats R]   (data: $MMR_DATA_DIR, default ../shared/data)
Prints a table and writes benchmarks/out/embed_throughput.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

from mmret.data.items import Item
from mmret.encoders.base import SHARED, Encoder
from mmret.encoders.hf import HFEncoder
from mmret.encoders.onnx_export import export_model
from mmret.encoders.precision import min_cosine
from mmret.media.batches import embed_items
from mmret.models import load_encoder

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
IMAGES = DATA / "flickr8k-500" / "images"
OUT = ROOT / "benchmarks" / "out" / "embed_throughput.json"
BATCH = 32
CLIP = "CLIP ViT-B/32"
MMRET, PLAIN = f"mmret {CLIP}", f"plain {CLIP}"
OFFLINE = {"offline": "mmret offline (Lite0)", "offline-lite2": "mmret offline-lite2"}
ONNX = "mmret offline ONNX fp32"
PEERS = {MMRET: PLAIN, ONNX: OFFLINE["offline"]}  # path -> the path it is compared with (same model)


def save_vit_b32_clip(path: Path) -> None:
    """A randomly initialised CLIP with the ViT-B/32 sizes, saved with a small stand-in tokenizer (the real
    BPE files need the hub; texts are not timed here) and the standard CLIP image processor config."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = list(letters) + [c + "</w>" for c in letters] + ["<|startoftext|>", "<|endoftext|>"]
    tokenizer = CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=77)
    special_ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                       "pad_token_id": tokenizer.pad_token_id}
    torch.manual_seed(0)
    config = CLIPConfig(text_config=special_ids, vision_config={"image_size": 224, "patch_size": 32}, projection_dim=512)
    for part in (CLIPModel(config), tokenizer, CLIPImageProcessorPil()):
        part.save_pretrained(path)


def mmret_run(encoder: Encoder, paths: list[Path]) -> np.ndarray:
    """Shared-space vectors of the files through mmret's pipeline, in input order."""
    items = [Item(id=str(p), modality="image", path=str(p)) for p in paths]
    vectors: dict[str, np.ndarray] = {}
    for batch in embed_items(encoder, items, batch_size=BATCH, workers=None, progress=False):
        if batch.failures:
            raise RuntimeError(f"could not embed {batch.failures}")
        vectors.update(zip((item.id for item in batch.items), batch.vectors[SHARED]))
    return np.stack([vectors[str(p)] for p in paths])


def plain_loop(model_dir: Path) -> Callable[[list[Path]], np.ndarray]:
    model = CLIPModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    processor = CLIPImageProcessorPil.from_pretrained(model_dir)

    def run(paths: list[Path]) -> np.ndarray:
        chunks = []
        for start in range(0, len(paths), BATCH):
            images = [Image.open(p).convert("RGB") for p in paths[start:start + BATCH]]
            inputs = processor(images=images, return_tensors="pt")
            with torch.no_grad():
                features = model.get_image_features(**inputs)
            features = features if isinstance(features, torch.Tensor) else features.pooler_output
            chunks.append(torch.nn.functional.normalize(features, dim=-1).numpy())
        return np.concatenate(chunks)

    return run


def timed_runs(runs: dict[str, Callable[[list[Path]], np.ndarray]], paths: list[Path],
               repeats: int) -> tuple[dict, dict]:
    """Seconds of every run of every path and each path's last vectors, after one untimed batch each
    (first-call costs: precision probes, kernel selection). The first two paths run back to back, in
    alternating order, so that each pair of runs sees the same load from other processes."""
    for run in runs.values():
        run(paths[:BATCH])
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    vectors: dict[str, np.ndarray] = {}
    first, second, *rest = runs
    for repeat in range(repeats):
        for name in ([first, second] if repeat % 2 == 0 else [second, first]) + rest:
            start = time.perf_counter()
            vectors[name] = runs[name](paths)
            seconds[name].append(time.perf_counter() - start)
            print(f"  run {repeat + 1}/{repeats} {name}: {seconds[name][-1]:.1f} s", flush=True)
    return seconds, vectors


def table(rows: list[dict]) -> str:
    header = (f"{'path':<21} {'precision':<9} {'images/s':>8} {'best':>6} {'runs (s)':<16} "
              f"{'vs peer':>8} {'paired':>7} {'min cos':>7}")
    lines = [header, "-" * len(header)]
    for r in rows:
        runs = " ".join(f"{s:.1f}" for s in r["seconds"])
        lines.append(f"{r['path']:<21} {r['precision']:<9} {r['images_per_s']:>8.1f} {r['best_images_per_s']:>6.1f} "
                     f"{runs:<16} {_optional(r['ratio_vs_plain'], '{:.2f}x'):>8} "
                     f"{_optional(r['paired_ratio_vs_plain'], '{:.2f}x'):>7} {_optional(r['min_cosine_vs_plain'], '{:.4f}'):>7}")
    return "\n".join(lines)


def _optional(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def result_rows(names: list[str], seconds: dict, vectors: dict, precisions: dict, n_images: int) -> list[dict]:
    """Per path: median and best-run throughput; for a path with a peer of the same model (PEERS), the ratio to
    the peer (of the medians, and the median of the ratios of runs of one repeat) and the agreement with its
    embeddings."""
    rate = {name: n_images / statistics.median(seconds[name]) for name in names}
    best = {name: n_images / min(seconds[name]) for name in names}
    rows = []
    for name in names:
        peer = PEERS.get(name) if PEERS.get(name) in names else None
        rows.append({"path": name, "precision": str(precisions[name]).removeprefix("torch."),
                     "images_per_s": rate[name], "best_images_per_s": best[name], "seconds": seconds[name],
                     "ratio_vs_plain": rate[name] / rate[peer] if peer else None,
                     "paired_ratio_vs_plain": statistics.median(np.divide(seconds[peer], seconds[name]))
                     if peer else None,
                     "min_cosine_vs_plain": min_cosine(vectors[name], vectors[peer]) if peer else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500, help="number of JPEGs (default all 500)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per path; the median counts (default 3)")
    parser.add_argument("--offline-only", action="store_true", help="the offline pack in PyTorch and ONNX only")
    args = parser.parse_args()
    paths = sorted(IMAGES.glob("*.jpg"))[:args.limit]
    if not paths:
        raise SystemExit(f"no JPEGs in {IMAGES} (set MMR_DATA_DIR)")
    print(f"{len(paths)} JPEGs from {IMAGES}, {args.repeats} runs per path, torch threads {torch.get_num_threads()}")

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "clip-vit-b32-random"
        clip, runs = None, {}
        if not args.offline_only:
            save_vit_b32_clip(model_dir)
            clip = HFEncoder(str(model_dir))
            runs = {MMRET: lambda p: mmret_run(clip, p), PLAIN: plain_loop(model_dir)}
        export_model("offline-bridge", Path(tmp) / "offline-onnx")
        onnx = load_encoder(str(Path(tmp) / "offline-onnx"))
        offline = {OFFLINE[name]: load_encoder(name) for name in OFFLINE if name == "offline" or not args.offline_only}
        runs.update({name: (lambda p, e=encoder: mmret_run(e, p)) for name, encoder in offline.items()})
        runs[ONNX] = lambda p: mmret_run(onnx, p)
        load_before = os.getloadavg()
        seconds, vectors = timed_runs(runs, paths, args.repeats)
    precisions = {MMRET: clip and clip.dtype, PLAIN: torch.float32, ONNX: "fp32 (onnxruntime)",
                  **{name: e.image_dtype for name, e in offline.items()}}
    rows = result_rows(list(runs), seconds, vectors, precisions, len(paths))
    print(table(rows))
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          "'best' is the fastest run; 'paired' the median ratio of back-to-back runs (both less sensitive to load)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "images": len(paths), "repeats": args.repeats, "batch_size": BATCH, "results": rows,
    }, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
