"""ONNX model folders (`mmret export-model`) against their PyTorch source: tiny random CLIP / SigLIP / ChineseCLIP
models saved to disk, exported, and loaded back through load_encoder as any --model DIR is."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mmret.encoders import onnx_export
from mmret.encoders.hf import HFEncoder
from mmret.encoders.loader import load_encoder
from mmret.encoders.onnx_encoder import MANIFEST, OnnxEncoder
from mmret.encoders.precision import min_cosine
from mmret.errors import BadInput, MissingPackage

from .test_hf import TEXTS, _build, _images

KINDS = ("clip", "siglip", "chinese_clip")


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple]:
    """kind -> (the source model folder, its fp32 ONNX folder, the export's reports)."""
    root = tmp_path_factory.mktemp("onnx")
    folders = {}
    for kind in KINDS:
        source = _build(kind, root).path
        out = root / f"{kind}-onnx"
        folders[kind] = (source, out, onnx_export.export_model(str(source), out))
    return folders


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("modality", ["text", "image"])
def test_fp32_export_embeds_as_transformers_does(exported, kind, modality):
    source, folder, _ = exported[kind]
    items = TEXTS if modality == "text" else _images()  # not the probe batch the export was checked on
    expected = HFEncoder(str(source), precision="fp32").encode(modality, items)
    got = load_encoder(str(folder)).encode(modality, items)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_reported_agreement_is_the_probe_batch_cosine(exported):
    source, folder, reports = exported["clip"]
    reference, onnx = HFEncoder(str(source), precision="fp32"), OnnxEncoder(folder)
    for report in reports:
        probe = onnx_export._probe(report.tower)
        measured = min_cosine(onnx.encode(report.tower, probe), reference.encode(report.tower, probe))
        assert report.agreement == pytest.approx(measured, abs=1e-6)
        assert json.loads((folder / MANIFEST).read_text())[report.tower]["agreement"] == pytest.approx(measured)


def test_int8_towers_are_kept_only_where_they_agree(exported, tmp_path):
    source = exported["clip"][0]
    reports = onnx_export.export_model(str(source), tmp_path / "int8", int8=True)
    reference, onnx = HFEncoder(str(source), precision="fp32"), OnnxEncoder(tmp_path / "int8")
    for report in reports:
        assert report.int8 == report.file.endswith(".int8.onnx") and (tmp_path / "int8" / report.file).is_file()
        probe = onnx_export._probe(report.tower)
        assert min_cosine(onnx.encode(report.tower, probe), reference.encode(report.tower, probe)) >= 0.99
    assert any(report.int8 for report in reports)


def test_an_export_that_disagrees_is_refused_and_leaves_nothing(exported, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "MIN_AGREEMENT", 1.01)  # no export can reach it
    with pytest.raises(BadInput, match="agrees with PyTorch only to cosine"):
        onnx_export.export_model(str(exported["clip"][0]), tmp_path / "refused")
    assert list(tmp_path.iterdir()) == []


def test_model_id_pins_the_weights_wherever_the_folder_moves(exported, tmp_path):
    folder = exported["clip"][1]
    encoder = load_encoder(str(folder))
    digest = json.loads((folder / MANIFEST).read_text())["sha256"][:12]
    assert isinstance(encoder, OnnxEncoder) and encoder.model_id == f"{folder.resolve()}@{digest}"
    moved = shutil.copytree(folder, tmp_path / "moved")
    assert load_encoder(f"{moved}@{digest}").model_id == f"{moved}@{digest}"
    with pytest.raises(BadInput, match="exported again or changed"):
        load_encoder(f"{moved}@{'0' * 12}")


def test_cli_prints_each_towers_agreement(exported, run, tmp_path):
    code, out, err = run("export-model", exported["siglip"][0], "--format", "onnx", "--out", tmp_path / "cli",
                         "--json")
    assert code == 0, err
    rows = {row["tower"]: row for row in json.loads(out)}
    assert set(rows) == {"text", "image"} and all(row["agreement"] >= 0.99 for row in rows.values())
    code, out, err = run("export-model", exported["siglip"][0], "--out", tmp_path / "cli")  # replaces its own
    assert code == 0 and "agreement" in out
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    code, _, err = run("export-model", exported["siglip"][0], "--out", tmp_path / "other")
    assert code == 2 and "not an exported model folder" in err and (tmp_path / "other" / "keep.txt").is_file()


def test_text_encoding_imports_neither_torch_nor_transformers(exported):
    folder = exported["chinese_clip"][1]
    script = (f"import sys; from mmret import load_encoder; e = load_encoder({str(folder)!r}); "
              "v = e.encode('text', ['a dog']); assert v.shape[0] == 1; "
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_gpu_request_without_a_gpu_is_a_clear_error(exported):
    with pytest.raises(MissingPackage, match="device 'cuda:1'.*no CUDA provider"):
        load_encoder(str(exported["clip"][1]), device="cuda:1")
    assert load_encoder(str(exported["clip"][1]), device="auto")._providers == ["CPUExecutionProvider"]


@pytest.mark.slow
def test_offline_pack_export_embeds_as_the_offline_encoder(tmp_path, data_dir):
    from PIL import Image

    from mmret.encoders.offline import OfflineEncoder

    with pytest.raises(BadInput, match="already runs without torch"):  # the default's USE-m3 tower is numpy
        onnx_export.export_model("offline", tmp_path / "default-onnx")
    reports = onnx_export.export_model("offline-bridge", tmp_path / "offline-onnx")
    assert [r.tower for r in reports] == ["text", "image"] and min(r.agreement for r in reports) >= 0.99
    photos = [Image.open(p) for p in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:6]]
    texts = ["a dog runs on the beach", "two children play football", "一只狗"]
    source, onnx = OfflineEncoder(precision="fp32"), load_encoder(str(tmp_path / "offline-onnx"))
    assert onnx.spaces == source.spaces
    for modality, items in (("text", texts), ("image", photos)):
        expected, got = source.embed(modality, items), onnx.embed(modality, items)
        assert set(got) == set(expected)
        for space in expected:
            assert min_cosine(got[space], expected[space]) >= 0.999


def test_a_missing_onnxruntime_names_the_extra(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if it were not installed
    with pytest.raises(MissingPackage, match=r"needs onnxruntime: pip install 'mmret\[onnx\]'"):
        load_encoder(str(exported["clip"][1]))
