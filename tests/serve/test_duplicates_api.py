"""GET /api/duplicates answers what `mmret duplicates --json` prints for the same collection: an exact copy and a
near copy of a square are grouped with it, the largest file first; other colours stay apart."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from .conftest import client_for, square


def test_the_groups_are_those_of_the_command(tmp_path):
    root = tmp_path / "media"
    root.mkdir()
    square(root / "red.png", (220, 20, 20), side=96)
    shutil.copyfile(root / "red.png", root / "red copy.png")
    square(root / "red small.png", (214, 24, 22), side=48)
    square(root / "blue.png", (20, 20, 220))
    square(root / "green.png", (20, 200, 20))
    with client_for(tmp_path / "c", root, tmp_path / "thumbs") as client:
        answer = client.get("/api/duplicates", params={"threshold": 0.999})
        assert answer.status_code == 200, answer.text
        printed = subprocess.run([sys.executable, "-m", "mmret.cli", "duplicates", "--collection", tmp_path / "c",
                                  "--threshold", "0.999", "--json"], capture_output=True, text=True, check=True)
        assert answer.json() == json.loads(printed.stdout)
        [group] = answer.json()["groups"]
        names = [copy["path"].rsplit("/", 1)[1] for copy in group["copies"]]
        assert sorted(names[:2]) == ["red copy.png", "red.png"] and names[2] == "red small.png"
        assert [copy["exact"] for copy in group["copies"]] == [True, True, False]
        assert 0.999 <= group["copies"][2]["similarity"] < 1.0
        assert client.get("/api/duplicates", params={"threshold": 2}).status_code == 422
        unknown = client.get("/api/duplicates", params={"space": "nowhere"})
        assert unknown.status_code == 422 and "'nowhere' is not a space" in unknown.text
