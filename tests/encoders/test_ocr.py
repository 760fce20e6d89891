"""KeyframeReader on text rendered with PIL (RapidOCR's bundled ONNX models, offline)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

pytest.importorskip("rapidocr_onnxruntime")

from mmret.encoders.ocr import KeyframeReader, TextLine, _reading_order

_FONTS = [
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
]


def font(size: int) -> ImageFont.ImageFont:
    for path in _FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)  # Pillow >= 10.1: scalable


def photo(w: int, h: int, seed: int = 0) -> Image.Image:
    """Smooth colour waves plus grain: a busy, photo-like background without text."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack(
        [
            80 + 60 * np.sin(x / 23) + 30 * np.cos(y / 17),
            120 + 50 * np.cos((x + y) / 31),
            160 + 40 * np.sin(y / 13),
        ],
        -1,
    )
    a += np.random.default_rng(seed).normal(0, 12, a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(1.5)
    )


def draw(im: Image.Image, xy, text: str, size: int) -> tuple[int, int, int, int]:
    """Write white text with a black outline; return its real bounding box."""
    kw = {"font": font(size), "stroke_width": max(1, size // 24)}
    ImageDraw.Draw(im).text(xy, text, fill="white", stroke_fill="black", **kw)
    return ImageDraw.Draw(im).textbbox(xy, text, **kw)


def norm(s: str) -> str:
    return s.replace(" ", "").lower()


@pytest.fixture(scope="module")
def reader() -> KeyframeReader:
    return KeyframeReader()


@pytest.fixture(scope="module")
def fire_exit():
    im = photo(640, 360)
    return im, draw(im, (60, 130), "FIRE EXIT", 72)


def test_reads_big_text_on_photo(reader, fire_exit):
    im, (bx0, by0, bx1, by1) = fire_exit
    lines = reader.read(im)
    assert [type(t) for t in lines] == [TextLine]
    assert norm(reader.text(im)) == "fireexit"
    (x0, y0, x1, y1), score = lines[0].box, lines[0].score
    assert 0.5 <= score <= 1
    assert 0 <= x0 < x1 <= im.width and 0 <= y0 < y1 <= im.height
    tol = 15  # pixels: detector boxes are padded a little around the glyphs
    assert np.allclose((x0, y0, x1, y1), (bx0, by0, bx1, by1), rtol=0, atol=tol)


def test_two_lines_in_reading_order(reader):
    im = photo(400, 300, seed=1)
    bottom = draw(im, (40, 200), "NO PARKING", 36)  # drawn first, still read second
    top = draw(im, (40, 40), "OPEN DAILY", 36)
    lines = reader.read(im)
    assert [norm(t.text) for t in lines] == ["opendaily", "noparking"]
    assert norm(reader.text(im)) == "opendailynoparking"
    for line, real in zip(lines, (top, bottom)):
        cy, real_cy = (line.box[1] + line.box[3]) / 2, (real[1] + real[3]) / 2
        assert abs(cy - real_cy) < 10


def test_no_text_gives_nothing(reader):
    assert reader.read(photo(256, 256, seed=2)) == []
    assert reader.read(Image.new("RGB", (256, 256), "gray")) == []
    assert reader.text(photo(256, 256, seed=2)) == ""


def test_grayscale_and_rgba_input(reader, fire_exit):
    im, _ = fire_exit
    assert norm(reader.text(im.convert("L"))) == "fireexit"
    assert norm(reader.text(im.convert("RGBA"))) == "fireexit"


def test_min_score_and_min_chars_filter(fire_exit):
    im, _ = fire_exit
    (line,) = KeyframeReader(min_score=0.0).read(im)
    assert KeyframeReader(min_score=line.score).read(im) == [line]
    assert KeyframeReader(min_score=line.score + 1e-6).read(im) == []
    assert KeyframeReader(min_chars=len("FIREEXIT")).read(im) == [line]
    assert KeyframeReader(min_chars=len("FIREEXIT") + 1).read(im) == []


def test_reading_order_same_row_left_to_right():
    right = TextLine("b", 1.0, (200, 12, 260, 40))
    left = TextLine("a", 1.0, (10, 10, 100, 42))
    below = TextLine("c", 1.0, (0, 60, 90, 90))
    assert _reading_order([below, right, left]) == [left, right, below]


def test_missing_package_hint(monkeypatch):
    from mmret.encoders import ocr

    # bypass the cached engine, as if the package had never been imported
    monkeypatch.setattr(ocr, "_engine", ocr._engine.__wrapped__)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'mmret\[ocr\]'"):
        KeyframeReader().read(Image.new("RGB", (32, 32)))
