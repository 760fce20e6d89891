"""End to end through the `mmret` command, as a user runs it, on the shared real data."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmret.errors import NotFound

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def mmret(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=900, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"mmret {' '.join(map(str, args))} failed:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def flickr(data_dir):
    return json.loads((data_dir / "flickr8k-500" / "captions.json").read_text()), data_dir / "flickr8k-500"


def test_index_search_remove_on_real_photos(tmp_path, flickr):
    records, root = flickr
    photos = tmp_path / "photos"
    photos.mkdir()
    for record in records[:40]:
        shutil.copy(root / record["image"], photos)
    (photos / "broken.jpg").write_bytes((photos / Path(records[0]["image"]).name).read_bytes()[:500])
    collection = tmp_path / "coll"

    first = mmret("index", photos, "--collection", collection)
    assert "40 added" in first.stdout and "1 skipped" in first.stdout
    assert "broken.jpg" in first.stderr and "truncated" in first.stderr
    assert "0 added, 0 updated, 40 unchanged" in mmret("index", photos, "--collection", collection).stdout

    query = photos / Path(records[7]["image"]).name
    found = json.loads(mmret("search", "--collection", collection, "--image", query, "-k", "3", "--json").stdout)
    assert found["results"][0]["path"] == str(query.resolve())
    assert found["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)

    by_text = json.loads(mmret("search", "--collection", collection, "--text", records[3]["captions"][0],
                               "-k", "40", "--json").stdout)["results"]
    assert len(by_text) == 40 and [r["score"] for r in by_text] == sorted((r["score"] for r in by_text), reverse=True)

    mmret("remove", query, "--collection", collection)
    info = json.loads(mmret("info", "--collection", collection).stdout)
    assert info["items"] == 39 and info["model"].startswith("offline")


def test_eval_captions_slice_writes_json(tmp_path, flickr):
    _, root = flickr
    out = tmp_path / "eval.json"
    mmret("eval", "--data", f"captions:{root}", "--stop", "100", "--json", out)
    result = json.loads(out.read_text())
    assert result["n_items"] == {"image": 100, "text": 500}
    t2i = result["results"]["text->image"]
    # 100 images: a random ranking would put the one relevant image in the top 10 for ~10% of captions
    assert 0.0 <= t2i["R@1"] <= t2i["R@5"] <= t2i["R@10"] <= 1.0 and t2i["R@10"] > 0.2


def test_clear_errors(tmp_path):
    missing = mmret("index", tmp_path / "nope", "--collection", tmp_path / "c", check=False)
    assert missing.returncode == 2 and "nope" in missing.stderr
    assert not (tmp_path / "c").exists()
    no_coll = mmret("search", "--collection", tmp_path / "empty", "--text", "x", check=False)
    assert no_coll.returncode == NotFound.exit_code and "no collection" in no_coll.stderr
    bad_data = mmret("eval", "--data", "tiles:/x", check=False)
    assert bad_data.returncode == 2 and "tiles" in bad_data.stderr


def test_report_command_writes_a_page_with_plots_and_gallery(tmp_path, flickr):
    _, root = flickr
    out = tmp_path / "report"
    printed = mmret("report", "--data", f"captions:{root}", "--stop", "12", "--out", out, "--gallery-size", "3")
    page = out / "index.html"
    assert str(page) in printed.stdout
    html = page.read_text()
    assert "text-&gt;image" in html or "text->image" in html
    assert list(out.rglob("*.png")), "the report has no plots"
