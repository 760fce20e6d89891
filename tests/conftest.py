"""Shared test fixtures."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data sets: $MMR_DATA_DIR, default ../shared/data beside the repo; skips if absent.
    Resolved here, once: collections store a file by its resolved path, and ../shared may be a symlink."""
    path = Path(os.environ.get("MMR_DATA_DIR", REPO_ROOT.parent / "shared" / "data")).expanduser().resolve()
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} not found (set MMR_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def offline_encoder():
    """The offline pack's English bridge (`offline-bridge`: MiniLM, Lite0, untrained), loaded once per run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmret.encoders.offline import OfflineEncoder

    return OfflineEncoder()


@pytest.fixture(scope="session")
def fp32_encoder():
    """The towers of the default `offline` model (untrained bridge, fp32), as training runs on them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mmret.encoders.conse import BridgeSettings
    from mmret.encoders.offline import OfflineEncoder
    from mmret.encoders.registry import OFFLINE_MODELS

    return OfflineEncoder(precision="fp32", bridge=BridgeSettings(**OFFLINE_MODELS["offline"]))


@pytest.fixture
def one_torch_thread():
    """For tests on tiny tensors: on a shared machine, intra-op threads cost far more than they save (8x seen)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mount(*args) -> None:
    subprocess.run(["mount", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def tmpfs(request):
    """A tmpfs (4 MB, or the size given as an indirect parameter) mounted in a fresh folder others can enter."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = Path(tempfile.mkdtemp(prefix="mmret-tmpfs-"))
    point.chmod(0o755)
    try:
        _mount("-t", "tmpfs", "-o", f"size={getattr(request, 'param', '4m')},mode=755", "tmpfs", point)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    yield point
    subprocess.run(["umount", "--lazy", str(point)], check=False)  # lazily: a dead mmap may still hold it
    point.rmdir()


@pytest.fixture
def fill_disk():
    """fill_disk(path): fill the file system holding `path` to the last byte; returns the filler file."""
    return _fill


@pytest.fixture
def remount_read_only():
    """remount_read_only(point): make a tmpfs fixture's mount read-only."""
    return lambda point: _mount("-o", "remount,ro", point)


def _fill(path: Path) -> Path:
    filler = path / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    try:
        with open(filler, "ab") as out:
            while True:
                out.write(b"\0")
                out.flush()
    except OSError:
        pass
    return filler


@pytest.fixture
def run(capsys):
    """mmret ARGS in this process: (exit code, stdout, stderr); argparse errors exit through SystemExit."""
    from mmret.cli import main

    def run_mmret(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as stop:
            code = stop.code
        out = capsys.readouterr()
        return code, out.out, out.err
    return run_mmret
