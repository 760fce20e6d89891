"""Quiet successes that were not (issue 28, item 7): removing a path that is not stored fails with NotFound, and
re-indexing a folder whose files were deleted says how many are gone and that --sync removes them."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}


def mmret(cwd, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args), "--collection", cwd / "c"], cwd=cwd,
                          capture_output=True, text=True, env=ENV, timeout=600, check=False)


def test_remove_of_what_is_not_stored_and_files_gone_from_disk_are_said(data_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for image in sorted((data_dir / "flickr8k-500" / "images").glob("*.jpg"))[:12]:
        shutil.copy(image, photos)
    assert mmret(tmp_path, "index", photos).returncode == 0

    missing = mmret(tmp_path, "remove", "photos/notstored.jpg")
    assert missing.returncode == 3 and missing.stdout == ""
    assert "photos/notstored.jpg: not in the collection" in missing.stderr

    deleted = sorted(photos.iterdir())[:2]
    for path in deleted:
        path.unlink()
    again = mmret(tmp_path, "index", photos)
    assert "0 added, 0 updated, 10 unchanged, 0 removed" in again.stdout
    assert "2 stored files are gone from disk; --sync removes them; 12 items stored" in again.stdout
    synced = mmret(tmp_path, "index", photos, "--sync")
    assert "2 removed" in synced.stdout and "gone from disk" not in synced.stdout

    kept = mmret(tmp_path, "remove", f"photos/{min(photos.iterdir()).name}")
    assert kept.returncode == 0 and kept.stdout.startswith("removed 1 items; 9 stored")
