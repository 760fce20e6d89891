"""`mmret duplicates` on real photos indexed by the real `mmret index`: resized and recompressed copies are grouped
with their original (the original first) at --threshold 0.9, a byte-for-byte copy by its hash at any threshold, and
two different photos of one class (two rendered soccer balls at 0.85 in the image space, two hedgehogs) are not
grouped; text items are left out."""
import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
PHOTOS = ["ferry/image_0041", "anchor/image_0001", "soccer_ball/image_0002", "soccer_ball/image_0014",
          "hedgehog/image_0003", "hedgehog/image_0006"]


def mmret(*args):
    return subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                          env=ENV, timeout=600, check=False)


@pytest.fixture(scope="module")
def library(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("library")
    photos = root / "photos"
    photos.mkdir()
    for name in PHOTOS:
        shutil.copyfile(data_dir / "caltech101" / "images" / f"{name}.jpg", photos / f"{name.replace('/', '_')}.jpg")
    ferry = Image.open(photos / "ferry_image_0041.jpg").convert("RGB")
    ferry.resize((ferry.width * 3 // 4, ferry.height * 3 // 4)).save(photos / "ferry_smaller.jpg", quality=90)
    Image.open(photos / "anchor_image_0001.jpg").convert("RGB").save(photos / "anchor_q60.jpg", quality=60)
    shutil.copyfile(photos / "hedgehog_image_0003.jpg", photos / "hedgehog_exact_copy.jpg")
    (photos / "notes.txt").write_text("a ferry\n")
    (photos / "notes_again.txt").write_text("a ferry\n")
    result = mmret("index", photos, "--collection", root / "c")
    assert result.returncode == 0, result.stderr
    return root / "c"


def groups_of(collection, *options):
    result = mmret("duplicates", "--collection", collection, "--json", *options)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    return answer, [[copy["path"].rsplit("/", 1)[1] for copy in group["copies"]] for group in answer["groups"]]


def test_copies_are_grouped_with_their_original_first_and_different_photos_are_not(library):
    answer, groups = groups_of(library, "--threshold", "0.9")
    assert answer["space"] == "image"
    assert {frozenset(group) for group in groups} == {
        frozenset({"anchor_image_0001.jpg", "anchor_q60.jpg"}),
        frozenset({"ferry_image_0041.jpg", "ferry_smaller.jpg"}),
        frozenset({"hedgehog_exact_copy.jpg", "hedgehog_image_0003.jpg"})}
    assert {group[0] for group in groups} >= {"anchor_image_0001.jpg", "ferry_image_0041.jpg"}  # the larger files
    hedgehog = next(g for g in answer["groups"] if "hedgehog" in g["copies"][0]["path"])
    assert [c["exact"] for c in hedgehog["copies"]] == [True, True]
    assert [c["similarity"] for c in hedgehog["copies"]] == [1.0, 1.0]
    for group in answer["groups"]:
        best, other = group["copies"]
        assert group["best"] == best["id"] and best["size"] >= other["size"] and best["similarity"] == 1.0
        assert answer["threshold"] <= other["similarity"] < 1.0 or other["exact"]
    assert not any("soccer" in name or "hedgehog_image_0006" in name for group in groups for name in group)


def test_the_default_threshold_groups_exact_copies_and_keeps_different_photos_apart(library):
    _, groups = groups_of(library)
    assert frozenset({"hedgehog_exact_copy.jpg", "hedgehog_image_0003.jpg"}) in {frozenset(g) for g in groups}
    assert not any("soccer" in name or "hedgehog_image_0006" in name for group in groups for name in group)


def test_texts_are_grouped_only_when_asked(library):
    assert not any(name.endswith(".txt") for group in groups_of(library)[1] for name in group)
    assert ["notes.txt", "notes_again.txt"] in [sorted(group) for group in groups_of(library, "--texts")[1]]


def test_a_threshold_out_of_range_is_a_user_error(library):
    result = mmret("duplicates", "--collection", library, "--threshold", "1.5")
    assert result.returncode != 0 and result.returncode != 70
    assert "threshold" in result.stderr


def searched(collection, text="a ferry boat"):
    result = mmret("search", text, "--collection", collection, "-k", "20", "--json")
    assert result.returncode == 0, result.stderr
    return [row["path"].rsplit("/", 1)[1] for row in json.loads(result.stdout)["results"] if row["path"]]


def test_excluded_copies_leave_search_survive_reindexing_and_come_back(library):
    assert {"ferry_image_0041.jpg", "ferry_smaller.jpg"} <= set(searched(library))
    try:
        hidden = mmret("duplicates", "--collection", library, "--threshold", "0.9", "--exclude-from-search")
        assert hidden.returncode == 0 and "3 copies hidden from search" in hidden.stdout, hidden.stderr
        found = set(searched(library))
        assert "ferry_image_0041.jpg" in found and "ferry_smaller.jpg" not in found and "anchor_q60.jpg" not in found
        photos = library.parent / "photos"
        Image.open(photos / "ferry_image_0041.jpg").convert("RGB").resize((200, 150)).save(photos / "ferry_smaller.jpg")
        again = mmret("index", photos, "--collection", library)  # the copy changed: embedded again, still hidden
        assert again.returncode == 0 and "1 updated" in again.stdout + again.stderr, again.stdout + again.stderr
        assert "ferry_smaller.jpg" not in searched(library)
        assert ["anchor_image_0001.jpg", "anchor_q60.jpg"] in groups_of(library, "--threshold", "0.9")[1]  # listed
    finally:
        shown = mmret("duplicates", "--collection", library, "--include-in-search")
    assert shown.returncode == 0 and "3 hidden copies are shown in search again" in shown.stdout
    assert {"ferry_image_0041.jpg", "ferry_smaller.jpg", "anchor_q60.jpg"} <= set(searched(library))
