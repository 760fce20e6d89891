"""Calibrated relevance from the command line, on real photos indexed with the offline model: `--json` rows carry
the shipped curve's relevance, `--min-relevance` keeps the rows at or above it, `mmret calibrate --collection C
--relevance PAIRS` replaces the curve with the collection's own and `--clear` goes back."""
import csv
import json
import os
import subprocess
import sys

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
PHOTOS = ["strawberry/image_0002", "strawberry/image_0005", "octopus/image_0003", "octopus/image_0006",
          "ferry/image_0041", "anchor/image_0001"]


def mmret(*args):
    result = subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def relevance_of(collection, *options):
    rows = json.loads(mmret("search", "a red strawberry", "--collection", collection, "--json", *options))["results"]
    return {row["path"].rsplit("/", 2)[1] + "/" + row["path"].rsplit("/", 1)[1]: row["relevance"] for row in rows}


def test_relevance_min_relevance_and_a_collections_own_curve(tmp_path, data_dir):
    photos = [data_dir / "caltech101" / "images" / f"{name}.jpg" for name in PHOTOS]
    mmret("index", *photos, "--collection", tmp_path / "c")
    shipped = relevance_of(tmp_path / "c")
    assert len(shipped) == len(PHOTOS) and all(0 < value < 1 for value in shipped.values())
    assert max(shipped, key=shipped.get).startswith("strawberry/")
    cut = sorted(shipped.values())[-2] - 5e-5  # the two best rows stay (rows round relevance to 4 places)
    assert set(relevance_of(tmp_path / "c", "--min-relevance", str(cut))) == {
        name for name, value in shipped.items() if value >= cut}

    pairs = tmp_path / "pairs.csv"
    with pairs.open("w", newline="") as file:
        csv.writer(file).writerows([("query", "item"), *(("a red strawberry", p) for p in photos[:2]),
                                    *(("an octopus", p) for p in photos[2:4]), ("a ferry boat", photos[4])])
    fitted = json.loads(mmret("calibrate", "--collection", tmp_path / "c", "--relevance", pairs))
    assert fitted["fitted_on"]["queries"] == 3 and fitted["fitted_on"]["gallery"] == len(PHOTOS)
    own = relevance_of(tmp_path / "c")
    assert own != shipped and {n for n, v in own.items() if v >= fitted["cut"]} >= {"strawberry/image_0002.jpg"}
    mmret("calibrate", "--collection", tmp_path / "c", "--relevance", "--clear")
    assert relevance_of(tmp_path / "c") == shipped
