"""An item's stored text on the `mmret ls` and `mmret search` lines, as in their --json (issue 28, item 9): a
photo's title from a manifest, a note's content (cut to one line)."""
import csv
import json
import os
import subprocess
import sys

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
NOTE = "Lemon cake recipe: flour, sugar, butter, eggs and lemon zest.\nBake for 40 minutes, then let it cool " \
       "for an hour before you ice it with the lemon glaze."


def mmret(*args):
    result = subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_ls_and_search_lines_show_the_stored_text(tmp_path, data_dir):
    records = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())[:2]
    photos = [str(data_dir / "flickr8k-500" / r["image"]) for r in records]
    titles = [r["captions"][0] for r in records]
    with open(tmp_path / "catalogue.csv", "w", newline="") as file:
        csv.writer(file).writerows([("path", "text"), *zip(photos, titles)])
    (tmp_path / "cake.txt").write_text(NOTE)
    collection = tmp_path / "collection"
    mmret("index", tmp_path / "catalogue.csv", collection.parent / "cake.txt", "--collection", collection)

    listed = {json.loads(line)["path"]: json.loads(line)["text"] for line in
              mmret("ls", "--collection", collection, "--json").splitlines()}
    assert [listed[photo] for photo in photos] == titles
    lines = mmret("ls", "--collection", collection).splitlines()
    for photo, title in zip(photos, titles):
        assert f'{photo} "{title}"' in lines[[photo in line for line in lines].index(True)]
    note = next(line for line in lines if "cake.txt" in line)
    assert f'cake.txt "{" ".join(NOTE.split())[:79]}…"' in note  # one line, cut to 80 characters

    found = mmret("search", titles[1], "--collection", collection, "-k", "1").splitlines()[0]
    assert f'{photos[1]} "{titles[1]}"' in found
