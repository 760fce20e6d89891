"""`index --ocr` on photos (pipeline/photo_text.py): the words read in a photo join its stored text, so keyword
search finds them, and their embedding its vector; a photo without text, and indexing without --ocr, keep the
photo's own vector. Real RapidOCR models and the real offline encoder."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

pytest.importorskip("rapidocr_onnxruntime")

from mmret import Collection
from mmret.encoders.base import SHARED
from mmret.media.timed_settings import TimedSettings

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def sign(path: Path, words: str) -> Path:
    image = Image.new("RGB", (720, 240), (30, 60, 120))
    font = ImageFont.truetype(str(FONT), 40) if FONT.exists() else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((30, 90), words, fill=(255, 255, 255), font=font)
    image.save(path)
    return path


def test_words_in_a_photo_are_found_by_keyword_and_by_meaning(tmp_path, data_dir, offline_encoder):
    photos = tmp_path / "photos"
    photos.mkdir()
    sign(photos / "a.png", "HARBOUR MUSEUM")
    plain = photos / "b.jpg"
    plain.write_bytes((data_dir / "coco-mini" / "val2017" / "000000000139.jpg").read_bytes())
    with_ocr = Collection.open(tmp_path / "ocr", offline_encoder)
    with_ocr.add([photos], timed=TimedSettings(ocr=True))
    without = Collection.open(tmp_path / "plain", offline_encoder)
    without.add([photos])

    [hit] = with_ocr.search("museum", mode="keyword")
    assert hit.record.path.endswith("a.png") and "MUSEUM" in hit.record.text.upper()
    assert [h.record.path for h in without.search("museum", mode="keyword")] == []
    image = without.vectors_of([str(photos / "a.png")])[str(photos / "a.png")]
    text = offline_encoder.encode("text", [with_ocr.get(str(photos / "a.png")).text])[0]
    expected = (image + text) / np.linalg.norm(image + text)
    stored = with_ocr.vectors_of([str(photos / "a.png"), str(plain)], SHARED)
    np.testing.assert_allclose(stored[str(photos / "a.png")], expected, atol=1e-5)
    np.testing.assert_allclose(stored[str(plain)], without.vectors_of([str(plain)])[str(plain)], atol=1e-6)
