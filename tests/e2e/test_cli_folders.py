"""An ordinary folder through the `mmret` command: photos with notes beside them, and the collection kept inside
the folder it indexes (issue 28, item 4)."""
import json
import os
import shutil
import subprocess
import sys

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def mmret(*args):
    result = subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_text_notes_are_indexed_and_the_collection_never_indexes_itself(tmp_path, data_dir):
    mine = tmp_path / "mine"
    mine.mkdir()
    photo = next(iter(sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))))
    shutil.copy(photo, mine / "photo.jpg")
    (mine / "cake.txt").write_text("Lemon cake recipe: flour, sugar, butter, eggs and lemon zest. Bake 40 minutes.")
    (mine / "trip.md").write_text("# Sailing trip\n\nWe sailed the boat across the bay to the lighthouse.")
    collection = mine / "collection"

    first = mmret("index", mine, "--collection", collection)
    assert "3 added, 0 updated, 0 unchanged, 0 removed, 0 skipped" in first.stdout, first.stdout + first.stderr
    again = mmret("index", mine, "--collection", collection)
    assert "0 added, 0 updated, 3 unchanged, 0 removed, 0 skipped" in again.stdout, again.stdout + again.stderr

    found = json.loads(mmret("search", "--collection", collection, "--text", "a lemon cake recipe", "-k", "3",
                             "--json").stdout)["results"]
    assert found[0]["path"] == str((mine / "cake.txt").resolve()) and found[0]["modality"] == "text"
    assert "lemon zest" in found[0]["text"]
    sailing = json.loads(mmret("search", "--collection", collection, "--text", "sailing a boat to the lighthouse",
                               "-k", "1", "--json").stdout)["results"]
    assert sailing[0]["path"] == str((mine / "trip.md").resolve())
