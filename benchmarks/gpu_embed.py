"""Image embedding on a CUDA GPU, end to end from JPEG files (decoding in loader workers, as `mmret index` does):
images/s for the offline pack's image tower (EfficientNet-Lite0 + the ConSE bridge) and a CLIP with the
ViT-B/32 sizes and random weights (speed does not depend on the values), fp32 against fp16 and bf16, at batch
sizes 32-512; each half-precision row with its agreement (min cosine) with fp32 on the same images. With an
onnxruntime that has the CUDA provider (onnxruntime-gpu), the offline pack exported to ONNX runs there too.

On a machine without a CUDA GPU it says so and exits 0 (`--cpu` runs the fp32 rows on the CPU instead).

Usage: python benchmarks/gpu_embed.py [--images N] [--batches 32,64,128,256,512] [--cpu]   (data: $MMR_DATA_DIR)
Prints a table and writes benchmarks/out/gpu_embed.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from embed_throughput import save_vit_b32_clip

from mmret.data.items import Item
from mmret.encoders.base import SHARED, Encoder, l2_normalise
from mmret.encoders.hf import HFEncoder
from mmret.encoders.offline import OfflineEncoder
from mmret.encoders.precision import min_cosine
from mmret.media.batches import embed_items

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MMR_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "out" / "gpu_embed.json"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class OfflineImagesOn(Encoder):
    """The offline pack's image path (tower + ConSE bridge) on a device in a dtype; the bridge stays numpy."""

    modalities = ("image",)

    def __init__(self, reference: OfflineEncoder, device: str, dtype: torch.dtype):
        model = copy.deepcopy(reference.image_network)  # the fp32 reference keeps its own
        self.model = model.eval().to(device, dtype).to(memory_format=torch.channels_last)
        self.device, self.dtype, self.bridge = device, dtype, reference.bridge
        self.model_id, self.spaces = reference.model_id, {SHARED: reference.spaces[SHARED]}
        self._prepare = reference.preparer("image")

    def preparer(self, modality: str):
        return self._prepare

    def embed_prepared(self, modality: str, batch) -> dict[str, np.ndarray]:
        pixels = torch.from_numpy(np.asarray(batch, np.float32)).to(self.device, self.dtype)
        with torch.inference_mode():
            pooled = self.model.extract_features(pixels.contiguous(memory_format=torch.channels_last)).mean((2, 3))
            logits = self.model._fc(pooled).float().cpu().numpy()
        return {SHARED: self.bridge.project(logits)}


def run(encoder: Encoder, paths: list[Path], batch: int) -> tuple[float, np.ndarray]:
    items = [Item(id=str(p), modality="image", path=str(p)) for p in paths]
    embed_items(encoder, items[:batch], batch_size=batch, workers=None, progress=False)  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start, vectors = time.perf_counter(), {}
    for done in embed_items(encoder, items, batch_size=batch, workers=None, progress=False):
        vectors.update(zip((item.id for item in done.items), done.vectors[SHARED]))
    seconds = time.perf_counter() - start
    return len(paths) / seconds, l2_normalise(np.stack([vectors[str(p)] for p in paths]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="JPEGs (flickr8k-500 repeated to reach N)")
    parser.add_argument("--batches", default="32,64,128,256,512")
    parser.add_argument("--cpu", action="store_true", help="without a GPU: the fp32 rows on the CPU")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.cpu:
        print(f"no CUDA GPU here (torch {torch.__version__}): this benchmark is for a GPU machine; --cpu runs "
              "its fp32 rows on the CPU")
        return
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    dtypes = {k: v for k, v in DTYPES.items() if device != "cpu" or k == "fp32"}
    jpegs = sorted((DATA / "flickr8k-500" / "images").glob("*.jpg"))
    paths = (jpegs * (args.images // max(len(jpegs), 1) + 1))[:args.images]
    batches = [int(b) for b in args.batches.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        save_vit_b32_clip(Path(tmp) / "clip")
        offline = OfflineEncoder(precision="fp32")
        models = {"offline (Lite0 + ConSE)": lambda dtype: OfflineImagesOn(offline, device, dtype),
                  "CLIP ViT-B/32 (random)": lambda dtype: _clip(Path(tmp) / "clip", device, dtype)}
        for name, build in models.items():
            for batch in batches:
                reference = None
                for label, dtype in dtypes.items():
                    rate, vectors = run(build(dtype), paths, batch)
                    reference = vectors if reference is None else reference
                    rows.append({"model": name, "batch": batch, "dtype": label, "images_per_s": rate,
                                 "min_cosine_vs_fp32": min_cosine(vectors, reference)})
                    print(f"{name:<26}{batch:>6} {label:<5}{rate:>10.1f} images/s  "
                          f"min cos {rows[-1]['min_cosine_vs_fp32']:.4f}", flush=True)
        rows += _onnx_rows(Path(tmp) / "offline-onnx", paths, batches) if device != "cpu" else []
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                               "machine": platform.platform(), "device": _device_name(device),
                               "images": len(paths), "rows": rows}, indent=2) + "\n")
    print(f"wrote {OUT}")


def _onnx_rows(folder: Path, paths: list[Path], batches: list[int]) -> list[dict]:
    """The offline pack exported to ONNX, on ONNX Runtime's CUDA provider (when this onnxruntime has it)."""
    import onnxruntime

    from mmret.encoders.onnx_encoder import OnnxEncoder
    from mmret.encoders.onnx_export import export_model

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        print("onnxruntime has no CUDA provider here (pip install onnxruntime-gpu): no ONNX rows")
        return []
    export_model("offline", folder)
    rows = []
    for batch in batches:
        rate, _ = run(OnnxEncoder(folder, device="cuda"), paths, batch)
        rows.append({"model": "offline ONNX (CUDA provider)", "batch": batch, "dtype": "fp32", "images_per_s": rate,
                     "min_cosine_vs_fp32": None})
        print(f"{'offline ONNX (CUDA EP)':<26}{batch:>6} fp32 {rate:>10.1f} images/s", flush=True)
    return rows


def _clip(folder: Path, device: str, dtype: torch.dtype) -> HFEncoder:
    encoder = HFEncoder(str(folder), precision="fp32", device=device)
    encoder.model.to(dtype)  # in place: the encoder runs its model in this dtype
    return encoder


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu"


if __name__ == "__main__":
    sys.exit(main())
