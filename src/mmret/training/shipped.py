"""A trained heads model (the folder `mmret train` writes) -> the float16 heads the package ships as the default
offline model (mmret.encoders.offline_heads), with the record that names their hash, data and figures.

    python -m mmret.training.shipped runs/offline-default/model [OUT_FOLDER]

OUT_FOLDER defaults to the package's own src/mmret/resources/offline, the default's heads (its MODEL_CARD.md is
written by hand and left alone).
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from ..encoders.offline_heads import HEADS_FILE, RECORD_FILE, shipped_folder
from ..errors import BadInput
from .saved import WEIGHTS, read_record

HEADS = ("image_head", "text_head")


def linear_layers(weights: dict[str, np.ndarray], head: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """A head's Linear layers in forward order (a Sequential's numbered children; dropout and GELU have none)."""
    indices = sorted({int(name.split(".")[1]) for name in weights if name.startswith(f"{head}.")})
    return [(weights[f"{head}.{i}.weight"], weights[f"{head}.{i}.bias"]) for i in indices]


def heads_arrays(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The heads as float16 arrays named "image.I.weight" / "text.I.bias" (I: the Linear layer's position)."""
    unknown = sorted({name.split(".")[0] for name in weights} - set(HEADS))
    if unknown:
        raise BadInput(f"only frozen-tower heads can ship; this model also has {unknown}")
    arrays = {}
    for head in HEADS:
        for i, (weight, bias) in enumerate(linear_layers(weights, head)):
            prefix = f"{head.removesuffix('_head')}.{i}"
            arrays[f"{prefix}.weight"] = weight.astype(np.float16)
            arrays[f"{prefix}.bias"] = bias.astype(np.float16)
    return arrays


def export_heads(model_dir: Path, out: Path | None = None) -> Path:
    """Writes heads.npz and record.json into `out` and returns the heads file."""
    model_dir, out = Path(model_dir), Path(out) if out else shipped_folder()
    trained = read_record(model_dir)
    buffer = io.BytesIO()
    np.savez(buffer, **heads_arrays(load_file(str(model_dir / WEIGHTS))))
    data = buffer.getvalue()
    config = trained["config"]
    record = {
        "weights_sha256": hashlib.sha256(data).hexdigest(),
        "dtype": "float16",
        "base": trained["base"],
        "dim": trained["dim"],
        "image_inputs": config["model"]["image_inputs"],
        "image_head": config["model"]["image_head"],
        "text_head": config["model"]["text_head"],
        "data": trained["data"],
        "validation": trained["validation"],
        "training": trained["training"],
        "config": config,
        "code": trained["code"],
        "trained": trained["created"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / HEADS_FILE).write_bytes(data)
    (out / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out / HEADS_FILE


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    print(export_heads(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else None))
