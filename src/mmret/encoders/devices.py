"""Where encoders run: "auto", "cpu", "cuda", "cuda:N" or "mps", resolved for torch or for ONNX Runtime.

"auto" takes a GPU when the engine sees one, else the CPU. Asking for a GPU the engine cannot see is an
Unavailable error naming the device, never a silent fall back to the CPU.
"""
from __future__ import annotations

import re

from ..errors import BadInput, MissingPackage, Unavailable

DEVICE_CHOICES = "auto|cpu|cuda|cuda:N|mps"
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(requested: str) -> str:
    if not isinstance(requested, str) or not _DEVICE.match(requested):
        raise BadInput(f"device {requested!r}: expected one of {DEVICE_CHOICES}")
    return requested


def torch_device(requested: str = "cpu") -> str:
    """The torch device to run on, as a string ("cpu", "cuda:0", "mps")."""
    import torch

    check_device(requested)
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        return "mps" if _mps_available(torch) else "cpu"
    if requested.startswith("cuda"):
        index = int(requested.partition(":")[2] or 0)
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if index >= count:
            raise Unavailable(f"device {requested!r}: torch sees {count} CUDA GPU(s) on this machine "
                              f"(torch {torch.__version__}); use --device cpu or auto")
        return f"cuda:{index}"
    if requested == "mps" and not _mps_available(torch):
        raise Unavailable("device 'mps': torch sees no Apple GPU (MPS) on this machine; use --device cpu or auto")
    return requested


def is_gpu(device: str) -> bool:
    return device.startswith(("cuda", "mps"))


def onnx_providers(requested: str = "cpu") -> list:
    """ONNX Runtime execution providers for a device: the CUDA provider for a CUDA GPU, else the CPU's."""
    import onnxruntime

    check_device(requested)
    available = onnxruntime.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    if requested == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if has_cuda else ["CPUExecutionProvider"]
    if requested.startswith("cuda"):
        if not has_cuda:
            raise MissingPackage(f"device {requested!r}: this onnxruntime has no CUDA provider (it has "
                                 f"{', '.join(available)}); install onnxruntime-gpu, or use --device cpu")
        index = int(requested.partition(":")[2] or 0)
        return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    if requested == "mps":
        raise Unavailable("device 'mps': ONNX model folders run on the CPU or a CUDA GPU; use --device cpu")
    return ["CPUExecutionProvider"]


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
