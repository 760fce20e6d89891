"""Text read in video keyframes becomes a timed `ocr` segment that a text query finds (RapidOCR, real models)."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

av = pytest.importorskip("av")
pytest.importorskip("rapidocr_onnxruntime")

from mmret import Collection
from mmret.media.timed_settings import TimedSettings

FPS, W, H = 12, 320, 240
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def sign(words: str) -> Image.Image:
    image = Image.new("RGB", (W, H), (30, 90, 40))
    font = ImageFont.truetype(str(FONT), 40) if FONT.exists() else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((20, 95), words, fill=(255, 255, 255), font=font)
    return image


def blobs(seed: int) -> Image.Image:
    small = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((W, H), Image.BICUBIC)


def write(path: Path, shots: list[Image.Image], seconds: int = 2) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for image in shots:
            for _ in range(seconds * FPS):
                out.mux(stream.encode(av.VideoFrame.from_image(image)))
        out.mux(stream.encode())
    return path


def test_text_in_a_shot_is_found_with_its_time_range(tmp_path, offline_encoder):
    video = write(tmp_path / "signs.mp4", [blobs(1), sign("FIRE EXIT"), blobs(2)])
    coll = Collection.open(tmp_path / "c", offline_encoder)
    coll.add([video], timed=TimedSettings(ocr=True))
    read = coll.store.find({"segment": "ocr"})
    assert [r.text.replace(" ", "").upper() for r in read] == ["FIREEXIT"]
    hit = coll.search(text="fire exit", k=1)[0]
    assert hit.record.metadata["segment"] == "ocr"
    assert hit.record.metadata["start"] == pytest.approx(2.0, abs=0.1)
    assert hit.record.metadata["end"] == pytest.approx(4.0, abs=0.1)
