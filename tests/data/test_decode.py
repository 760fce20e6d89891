import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmret.data.decode import DecodeError, DecodeLimits, read_image
from mmret.data.items import Item
from mmret.data.loader import prepared_batches


def write_photo(path, size=(64, 48), fmt=None):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, fmt)
    return path


@pytest.fixture
def bad_files(tmp_path):
    good = write_photo(tmp_path / "good.jpg")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.png"
    empty.touch()
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 Mpx, a few KB on disk
    return {"good": good, "truncated": truncated, "empty": empty, "text": text, "corrupt": corrupt, "bomb": bomb}


def test_good_image_decodes_to_rgb(bad_files):
    image = read_image(bad_files["good"])
    assert image.mode == "RGB" and image.size == (64, 48)


@pytest.mark.parametrize("name, reason", [
    ("truncated", "truncated"), ("empty", "empty file"), ("text", "not an image"),
    ("corrupt", "corrupt"), ("bomb", "too large"),
])
def test_bad_files_raise_decode_error_naming_file_and_reason(bad_files, name, reason):
    with pytest.raises(DecodeError) as info:
        read_image(bad_files[name])
    assert reason in info.value.reason
    assert str(bad_files[name]) in str(info.value)


def test_greyscale_and_transparent_images_become_rgb(tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("L", (10, 10), 128).save(grey)
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(clear)
    assert read_image(grey).getpixel((0, 0)) == (128, 128, 128)
    assert read_image(clear).getpixel((0, 0)) == (255, 255, 255)


def test_draft_decodes_big_jpeg_smaller_but_not_below_min_side(tmp_path):
    big = write_photo(tmp_path / "big.jpg", size=(1600, 1200))
    image = read_image(big, min_side=224)
    assert min(image.size) >= 224 and image.size[0] < 1600


def test_file_size_limit(tmp_path):
    path = write_photo(tmp_path / "a.png")
    with pytest.raises(DecodeError, match="file too large"):
        read_image(path, limits=DecodeLimits(max_bytes=10))


def to_array(image):
    from mmret.data.decode import load_rgb
    return np.asarray(load_rgb(image), dtype=np.float32)


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_keeps_order_and_reports_every_bad_file(bad_files, workers):
    items = [Item(id=str(p), modality="image", path=str(p)) for p in bad_files.values()] * 3
    batches = list(prepared_batches(items, to_array, batch_size=4, workers=workers))
    kept = [i.id for b in batches for i in b.items]
    failed = [i.id for b in batches for i, _ in b.failures]
    assert kept == [str(bad_files["good"])] * 3
    assert len(failed) == 15 and set(failed) == {str(p) for k, p in bad_files.items() if k != "good"}
    digests = {d for b in batches for d in b.digests}
    assert len(digests) == 1


@pytest.mark.parametrize("size", [(1, 20_000), (20_000, 1), (3, 400)])
def test_absurd_aspect_ratio_is_refused_from_the_header(tmp_path, size):
    thin = tmp_path / "thin.png"
    Image.new("RGB", size).save(thin)
    with pytest.raises(DecodeError, match=r"thin.png: absurd aspect ratio \(\d+x\d+, more than 100:1\)"):
        read_image(thin)


def test_wide_but_sane_images_still_decode(tmp_path):
    banner = write_photo(tmp_path / "banner.png", size=(1000, 12))
    assert read_image(banner).size == (1000, 12)


THIN_IMAGE_CHILD = """
import resource, sys
from PIL import Image
from mmret.data.items import Item
from mmret.data.loader import prepare_batch
from mmret.encoders.offline import ImagePreparer
Image.new("RGB", (20000, 1), (200, 30, 30)).save(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
batch = prepare_batch([Item(sys.argv[1], "image", sys.argv[1])], ImagePreparer())
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, batch.failures[0][1])
"""


def test_thin_image_costs_no_memory_in_the_offline_preparer(tmp_path):
    """Before the aspect check this 60 KB PNG raised the child's peak RSS by about 4 GB (1x5000: 1 GB)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    out = subprocess.run([sys.executable, "-c", THIN_IMAGE_CHILD, str(tmp_path / "thin.png")], env=env,
                         capture_output=True, text=True, check=True).stdout.split(maxsplit=2)
    before_kib, peak_kib, reason = int(out[0]), int(out[1]), out[2]
    assert reason.startswith("absurd aspect ratio")
    assert peak_kib - before_kib < 20 * 1024
