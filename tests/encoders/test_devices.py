"""--device: auto takes the CPU on a machine without a GPU; asking for a GPU that is not there is a clear error
that names the device, raised before any model loads."""
from __future__ import annotations

import pytest
import torch

from mmret.distributed.ray_pipeline import _actors_that_fit
from mmret.encoders.devices import check_device, onnx_providers, torch_device
from mmret.encoders.loader import load_encoder
from mmret.errors import BadInput, MissingPackage, Unavailable

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.mark.parametrize("text", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_grammar_accepts(text):
    assert check_device(text) == text


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "CPU", "", "cuda:0:1"])
def test_device_grammar_rejects(text):
    with pytest.raises(BadInput, match="expected one of auto|cpu"):
        check_device(text)


@no_gpu
def test_auto_is_the_cpu_without_a_gpu():
    assert torch_device("auto") == "cpu"
    assert onnx_providers("auto") == ["CPUExecutionProvider"]


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_missing_gpu_is_unavailable_by_name(device):
    with pytest.raises(Unavailable, match=f"device '{device}': torch sees 0 CUDA GPU"):
        torch_device(device)
    with pytest.raises(MissingPackage, match=f"device '{device}': this onnxruntime has no CUDA provider"):
        onnx_providers(device)


@no_gpu
def test_offline_model_on_a_missing_gpu_fails_before_loading(monkeypatch):
    from mmret.encoders import offline

    monkeypatch.setattr(offline, "OfflineEncoder", None)  # loading it would fail differently
    with pytest.raises(Unavailable, match="device 'cuda'"):
        load_encoder("offline", device="cuda")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_the_default_offline_model_loads_on_the_cpu(device):
    encoder = load_encoder("offline", device=device)
    assert encoder.model_id.startswith("offline")
    assert encoder.encode("text", ["a dog"]).shape[0] == 1


@no_gpu
def test_cli_device_errors(run, tmp_path):
    code, _, err = run("search", "a dog", "--collection", tmp_path, "--device", "gpu")
    assert code == 2 and "device 'gpu': expected one of" in err
    code, _, err = run("embed", "--text", "a dog", "--out", tmp_path / "v.npy", "--device", "cuda:3")
    assert code == Unavailable.exit_code and "device 'cuda:3'" in err and not (tmp_path / "v.npy").exists()


def test_ray_gpu_actors_fill_the_clusters_gpus(run, tmp_path):
    assert _actors_that_fit({"CPU": 16.0, "GPU": 2.0}, 0.5) == 4
    assert _actors_that_fit({"CPU": 16.0, "GPU": 2.0}, 0.0) == 16
    assert _actors_that_fit({"CPU": 16.0}, 0.25) == 1
    code, _, err = run("index", tmp_path, "--collection", tmp_path / "c", "--ray-gpus-per-actor", "0.5")
    assert code == 2 and "--ray-gpus-per-actor: only with --ray" in err
