"""Optional OCR of video keyframes (and any image) with RapidOCR.

``rapidocr-onnxruntime`` bundles its detection, angle and recognition ONNX models in the wheel,
so reading text runs offline on CPU. Install with ``pip install 'mmret[ocr]'``; the package is
imported lazily, on the first :meth:`KeyframeReader.read`, and its engine is shared.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MissingPackage

if TYPE_CHECKING:
    from PIL import Image

_HINT = "OCR needs rapidocr-onnxruntime: pip install 'mmret[ocr]'"
# text_score 0: keep every line, readers filter. Detector limit "max" 960: shrink big frames,
# never blow small ones up to 736 px (5x slower). One onnxruntime thread: 3x faster on a busy
# 2-core box, and frames can be read in parallel. No 180-degree classifier: frames are upright.
_ENGINE_KW = {
    "text_score": 0.0,
    "det_limit_type": "max",
    "det_limit_side_len": 960,
    "intra_op_num_threads": 1,
    "use_cls": False,
}


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float  # recogniser confidence 0..1
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the image


class KeyframeReader:
    """Text in images (RapidOCR: detection + recognition ONNX models bundled in its wheel)."""

    def __init__(self, min_score: float = 0.5, min_chars: int = 2):
        self.min_score = float(min_score)
        self.min_chars = int(min_chars)

    def read(self, image: Image.Image) -> list[TextLine]:
        """Lines in reading order (top to bottom, left to right); weak or too short lines dropped."""
        rgb = np.asarray(image.convert("RGB"))
        h, w = rgb.shape[:2]
        # RapidOCR takes an ndarray as OpenCV BGR (it only swaps channels of PIL/path input)
        result, _ = _engine()(np.ascontiguousarray(rgb[:, :, ::-1]))
        lines = []
        for points, text, score in result or []:
            text = str(text).strip()
            if score < self.min_score or len(text.replace(" ", "")) < self.min_chars:
                continue
            pts = np.asarray(points, dtype=float)
            x0, y0 = np.clip(pts.min(axis=0), 0, (w, h)).tolist()
            x1, y1 = np.clip(pts.max(axis=0), 0, (w, h)).tolist()
            lines.append(TextLine(text, float(score), (x0, y0, x1, y1)))
        return _reading_order(lines)

    def text(self, image: Image.Image) -> str:
        """The kept lines joined by a space ("" when the image has no text)."""
        return " ".join(line.text for line in self.read(image))


@functools.lru_cache(maxsize=1)
def _engine() -> Any:
    """One RapidOCR engine per process (settings are fixed; readers differ only in filtering)."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:
        raise MissingPackage(_HINT) from e
    return RapidOCR(**_ENGINE_KW)


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Rows top to bottom (a line whose centre lies inside a row's span joins it), each left to right."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2):
        cy = (line.box[1] + line.box[3]) / 2
        if rows and rows[-1][0].box[1] <= cy <= rows[-1][0].box[3]:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda t: t.box[0])]
