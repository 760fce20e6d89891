"""`mmret watch --device`: the model of the watched collection runs where the user says; a device that is not
there is an error naming it, before a collection is created."""
import pytest
import torch

from mmret.errors import Unavailable


def test_watch_loads_its_model_on_the_device_given(run, tmp_path, offline_encoder, monkeypatch):
    asked = []

    def load(name, precision="auto", device="cpu"):
        asked.append(device)
        return offline_encoder

    monkeypatch.setattr("mmret.api.load_encoder", load)
    monkeypatch.setattr("mmret.watch.FolderWatcher.run", lambda watcher: None)
    code, _, err = run("watch", tmp_path, "--collection", tmp_path / "c", "--model", "offline", "--device", "cpu")
    assert code == 0, err
    assert asked == ["cpu"]


def test_watch_device_errors(run, tmp_path):
    code, _, err = run("watch", tmp_path, "--collection", tmp_path / "c", "--device", "gpu")
    assert code == 2 and "device 'gpu': expected one of" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_watch_on_a_missing_gpu_is_unavailable_and_creates_nothing(run, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    code, _, err = run("watch", folder, "--collection", tmp_path / "c", "--model", "offline-bridge",
                       "--device", "cuda:3")
    assert code == Unavailable.exit_code and "device 'cuda:3'" in err
    assert not (tmp_path / "c").exists()
