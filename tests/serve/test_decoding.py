"""What a request makes the server decode stays small: a huge PNG query is reduced while it decodes, decodes share
a memory budget, a recording is searched by its first minute, and a photo has one cached thumbnail per side."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmret.serve.pictures import QUERY_AUDIO_SECONDS, DecodeBudget, first_minute

REPO = Path(__file__).resolve().parents[2]
HUGE = 7999  # pixels a side: under the 64-megapixel limit, 256 MB as RGBA
PEAK_GROWTH_LIMIT = 450 * 1024 * 1024  # one full-size decode (256 MB) and the small copy, nothing more
SEARCH_WITH_HUGE_PNG = """
import json, resource, sys
sys.path.insert(0, ".")
from tests.serve.conftest import client_for
from tests.serve.test_search_api import png
folder, media, thumbs, query = (__import__("pathlib").Path(p) for p in sys.argv[1:5])
with client_for(folder, media, thumbs, max_upload_bytes=1 << 20) as client:
    assert client.post("/api/search", files={"file": ("s.png", png((9, 9, 9)), "image/png")}).status_code == 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    answer = client.post("/api/search", files={"file": ("huge.png", query.read_bytes(), "image/png")})
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"status": answer.status_code, "growth": after - before}))
"""


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    Image.new("RGBA", (HUGE, HUGE), (200, 30, 30, 128)).save(path, compress_level=9)
    return path


def test_a_huge_png_query_is_decoded_small(tmp_path, huge_png):
    media = tmp_path / "media"
    media.mkdir()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(media / "red.png")
    run = subprocess.run([sys.executable, "-c", SEARCH_WITH_HUGE_PNG, str(tmp_path / "c"), str(media),
                          str(tmp_path / "t"), str(huge_png)],
                         check=False, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    measured = json.loads(run.stdout.splitlines()[-1])
    print(f"peak RSS growth searching by a {HUGE}x{HUGE} RGBA PNG: {measured['growth'] / 2**20:.0f} MB")
    assert measured["status"] == 200 and measured["growth"] < PEAK_GROWTH_LIMIT


def test_decodes_wait_for_the_memory_budget():
    budget, running, most = DecodeBudget(100), [0], [0]
    lock = threading.Lock()

    def decode(size):
        with budget.holding(size):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
                assert budget.held <= budget.capacity
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=decode, args=(size,)) for size in (60, 60, 60, 500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 1 and budget.held == 0  # 60 + 60 > 100, and 500 runs alone


def test_an_uploaded_recording_is_searched_by_its_first_minute(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    path = tmp_path / "long.flac"
    with soundfile.SoundFile(path, "w", 8000, 1, format="FLAC") as out:
        for _ in range(10):  # ten minutes of silence
            out.write(np.zeros(60 * 8000, np.float32))
    assert first_minute(path).seconds == QUERY_AUDIO_SECONDS


def test_a_photo_has_one_cached_thumbnail_whatever_the_time_asked(writable, tmp_path):
    client, _, root = writable
    red = str((root / "red.png").resolve())
    for at in (0, 1.5, 7, 3600):
        assert client.get("/api/thumbnail", params={"id": red, "at": at, "side": 128}).status_code == 200
    assert len(list((tmp_path / "thumbs").glob("*.jpg"))) == 1
