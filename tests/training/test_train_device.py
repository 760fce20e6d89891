"""`mmret train --device` (issue 24): auto trains on the CPU of a machine without a GPU, to the very weights of
an explicit cpu run, and the trained model comes back on the CPU; asking for a missing GPU is Unavailable,
named, before any data are read."""
from __future__ import annotations

import pytest
import torch
import yaml

from mmret.errors import Unavailable
from mmret.training import experiment
from mmret.training import run as training_run

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@no_gpu
def test_auto_trains_on_the_cpu_to_the_same_weights(small_problem, make_config):
    _, data = small_problem
    config = make_config({"training": {"epochs": 2}})
    on_cpu, cpu_result = experiment.fit(config, data, device="cpu")
    on_auto, auto_result = experiment.fit(config, data, device="auto")
    assert all(p.device.type == "cpu" for p in on_auto.parameters())
    cpu_weights, auto_weights = on_cpu.state_dict(), on_auto.state_dict()
    assert all(torch.equal(cpu_weights[k], auto_weights[k]) for k in cpu_weights)
    assert auto_result.validation == cpu_result.validation and auto_result.steps == 2 * 3


@no_gpu
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_a_missing_gpu_fails_before_the_data_are_prepared(make_config, monkeypatch, device):
    def prepare_data(*args, **kwargs):
        raise AssertionError("the data were prepared")

    monkeypatch.setattr(training_run, "prepare_data", prepare_data)
    monkeypatch.setattr(training_run, "load_towers", lambda *args, **kwargs: None)
    with pytest.raises(Unavailable, match=f"device '{device}': torch sees 0 CUDA GPU"):
        training_run.train(make_config(), device=device)


@no_gpu
def test_cli_train_device(run, base_config, tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({**base_config, "output": str(tmp_path / "run")}))
    code, _, err = run("train", config, "--device", "cuda:0")
    assert code == Unavailable.exit_code and "device 'cuda:0'" in err and not (tmp_path / "run").exists()
    code, _, err = run("tune", config, "--device", "gpu")
    assert code == 2 and "device 'gpu': expected one of" in err
