"""An exported model folder (`mmret export-model --format onnx`) as an encoder: ONNX Runtime runs the towers, the
`tokenizers` package tokenizes, numpy does the rest. Neither torch nor transformers is imported, so a text query
through such a folder starts in a fraction of the time.

The folder holds MANIFEST (what each tower is, how its inputs are made, how it agreed with its PyTorch source),
text.onnx and tokenizer.json, image.onnx, and for the offline pack the ConSE bridge's class-name embeddings.
Its model id is "DIR@HASH", HASH the first 12 hex digits of the sha256 of its files recorded at export, so a
collection built with it stays bound to those weights wherever the folder moves.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BadInput, MissingPackage
from .base import SHARED, Encoder, l2_normalise
from .devices import onnx_providers

MANIFEST = "mmret-onnx.json"
FORMAT = "mmret-onnx"
IMAGE_SPACE = "image"  # the offline pack's image-tower space, as OfflineEncoder names it
CHUNK = 64


def is_onnx_model_dir(path: str | Path) -> bool:
    return (Path(path).expanduser() / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BadInput(f"{folder / MANIFEST}: not a readable ONNX model manifest ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInput(f"{folder / MANIFEST}: format is not {FORMAT!r}")
    return manifest


class OnnxEncoder(Encoder):
    def __init__(self, folder: str | Path, device: str = "cpu", threads: int | None = None):
        try:
            import onnxruntime
            import tokenizers  # noqa: F401
        except ImportError as error:
            raise MissingPackage(f"ONNX model folder {folder}: needs {error.name}: pip install 'mmret[onnx]'") from error
        self.folder = Path(folder).expanduser().resolve()
        self.manifest = read_manifest(self.folder)
        self.model_id = f"{self.folder}@{self.manifest['sha256'][:12]}"
        self.spaces = dict(self.manifest["spaces"])
        self.modalities = tuple(m for m in ("text", "image") if m in self.manifest)
        self._options = onnxruntime.SessionOptions()
        if threads:
            self._options.intra_op_num_threads = threads
        self._providers = onnx_providers(device)
        self._sessions: dict[str, Any] = {}
        self._tokenizer = None
        self._image_preparer: Callable[[Any], np.ndarray] | None = None
        self._bridge = _conse_bridge(self.folder, self.manifest.get("bridge"))

    def preparer(self, modality: str) -> Callable[[Any], Any]:
        self._check(modality)
        return self.image_preparer() if modality == "image" else super().preparer(modality)

    def spaces_for(self, modality: str) -> tuple[str, ...]:
        self._check(modality)
        return (SHARED, IMAGE_SPACE) if modality == "image" and IMAGE_SPACE in self.spaces else (SHARED,)

    def embed_prepared(self, modality: str, batch: Any) -> dict[str, np.ndarray]:
        self._check(modality)
        if len(batch) == 0:
            return {space: np.zeros((0, self.spaces[space]), np.float32) for space in self.spaces_for(modality)}
        embed = self._embed_texts if modality == "text" else self._embed_images
        chunks = [embed(batch[start:start + CHUNK]) for start in range(0, len(batch), CHUNK)]
        return {space: np.concatenate([chunk[space] for chunk in chunks]) for space in chunks[0]}

    def image_preparer(self) -> Callable[[Any], np.ndarray]:
        if self._image_preparer is None:
            self._image_preparer = _image_preparer(self.manifest["image"]["preparer"])
        return self._image_preparer

    def _session(self, modality: str) -> Any:
        if modality not in self._sessions:
            import onnxruntime

            path = self.folder / self.manifest[modality]["file"]
            self._sessions[modality] = onnxruntime.InferenceSession(str(path), self._options,
                                                                    providers=self._providers)
        return self._sessions[modality]

    def _embed_texts(self, texts: Any) -> dict[str, np.ndarray]:
        tower = self.manifest["text"]
        for text in texts:
            if not isinstance(text, str):
                raise BadInput(f"{self.model_id}: text items must be str, got {type(text).__name__}")
        encodings = self._text_tokenizer().encode_batch(list(texts))
        columns = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
                   "token_type_ids": [e.type_ids for e in encodings]}
        inputs = {name: np.asarray(columns[name], dtype=np.int64) for name in tower["inputs"]}
        (output,) = self._session("text").run(None, inputs)
        return {SHARED: l2_normalise(output)}

    def _embed_images(self, pixels: Any) -> dict[str, np.ndarray]:
        outputs = self._session("image").run(None, {"pixel_values": np.asarray(pixels, dtype=np.float32)})
        if self._bridge is None:
            return {SHARED: l2_normalise(outputs[0])}
        features, logits = outputs
        return {SHARED: self._bridge.project(logits), IMAGE_SPACE: l2_normalise(features)}

    def _text_tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.folder, self.manifest["text"])
        return self._tokenizer


def load_tokenizer(folder: Path, tower: dict) -> Any:
    """The tower's tokenizer from tokenizer.json, padding and truncating as its PyTorch source does."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / tower["tokenizer"]))
    length = tower["max_length"]
    tokenizer.enable_truncation(length)
    fixed = length if tower["padding"] == "max_length" else None
    tokenizer.enable_padding(pad_id=tower["pad_id"], pad_token=tower["pad_token"], length=fixed)
    return tokenizer


def _image_preparer(settings: dict) -> Callable[[Any], np.ndarray]:
    kind = settings["kind"]
    if kind == "hf":
        from .hf_pixels import ImagePreparer

        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items() if k != "kind"}
        return ImagePreparer(**fields)
    # the offline pack's own resize rule (imports torch)
    from .offline import ImagePreparer as OfflinePreparer

    return OfflinePreparer(settings["size"], settings["crop_fraction"])


def _conse_bridge(folder: Path, settings: dict | None) -> Any:
    if settings is None:
        return None
    from .conse import ConseBridge

    classes = np.load(folder / settings["file"])
    return ConseBridge(classes, settings["top_k"], settings["temperature"], settings["soft_cutoff"])
