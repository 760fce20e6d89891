"""Wrong paths, missing packages, damaged collections, incompatible models and dimensions: each is one line
naming the file or field and the reason, with the exit code of its kind and no traceback (a missing package is simulated in a
fresh `mmret` process)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmret.errors import Conflict, MissingPackage
from mmret.index.collection import Record, VectorCollection

SRC = str(Path(__file__).resolve().parents[2] / "src")
# Runs the CLI as if these packages were not installed (an import of a None entry raises ImportError).
WITHOUT = "import sys; sys.modules.update(dict.fromkeys({names!r})); from mmret.cli import main; sys.exit(main({args!r}))"


@pytest.fixture
def place(tmp_path, data_dir):
    with VectorCollection.create(tmp_path / "c4", "other-model", {"shared": 4}) as coll:
        coll.upsert([Record(f"r{i}", "text") for i in range(300)],
                    {"shared": np.repeat(np.eye(1, 4, dtype=np.float32), 300, axis=0)})
    np.save(tmp_path / "v5.npy", np.eye(2, 5, dtype=np.float32))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "collection.sqlite").write_text("not a database " * 100)
    (tmp_path / "photos").mkdir()
    photo = next((data_dir / "caltech101" / "images").glob("*/*.jpg"))
    (tmp_path / "photos" / photo.name).write_bytes(photo.read_bytes())
    return tmp_path


def damaged_database(place: Path) -> Path:
    path = place / "damaged"
    with VectorCollection.create(path, "m", {"shared": 4}) as coll:
        for start in range(0, 3000, 500):
            coll.upsert([Record(f"r{i}", "text", text="x" * 200) for i in range(start, start + 500)],
                        {"shared": np.repeat(np.eye(1, 4, dtype=np.float32), 500, axis=0)})
    with open(path / "collection.sqlite", "r+b") as db:
        db.seek(4096)
        db.write(b"\x13" * 4096 * 8)
    return path


def truncated_segment(place: Path) -> Path:
    segment = next((place / "c4").glob("shared.g*-0.npy"))
    segment.write_bytes(segment.read_bytes()[:100])
    return place / "c4"


CASES = {  # name -> (arguments, expected in the line, exit code of the error's kind)
    "search of a missing collection": (["search", "--collection", "{p}/nowhere", "--text", "x"], "nowhere: no collection",
                                       3),
    "info of a missing collection": (["info", "--collection", "{p}/nowhere"], "nowhere: no collection", 3),
    "import of a missing file": (["import", "{p}/missing.npy", "--collection", "{p}/c4"], "missing.npy: no such", 2),
    "index of a missing folder": (["index", "{p}/no-photos", "--collection", "{p}/new"], "no-photos: no such", 2),
    "vectors of another dimension": (["import", "{p}/v5.npy", "--collection", "{p}/c4"], "expected shape (2, 4)", 2),
    "not a collection database": (["info", "--collection", "{p}/junk"], "collection.sqlite: not a collection", 2),
    "unknown model to create with": (["import", "{p}/v5.npy", "--collection", "{p}/new", "--model", "no-such-model"],
                                     "model 'no-such-model'", 2),
    "a collection's model cannot be loaded": (["search", "--collection", "{p}/c4", "--text", "x"], "'other-model'", 2),
    "bad index factory": (["optimize", "--collection", "{p}/c4", "--index", "Bogus12"], "index factory 'Bogus12'", 2),
}


def one_line_error(code: int, err: str, expected_code: int = 2) -> str:
    assert code == expected_code, (code, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mmret: error: "), err
    return lines[0]


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line(run, offline, place, case):
    args, expected, expected_code = CASES[case]
    code, _, err = run(*[a.format(p=place) for a in args])
    assert expected in one_line_error(code, err, expected_code)


@pytest.mark.parametrize("damage, expected", [
    (damaged_database, "damaged/collection.sqlite: .*database disk image is malformed"),
    (truncated_segment, "c4/shared.g000001-0.npy: cannot load a segment of space 'shared'"),
])
def test_a_damaged_collection_is_one_line(run, place, damage, expected):
    path = damage(place)
    failed = 0
    for command in ("ls", "info"):
        code, _, err = run(command, "--collection", path)
        if code:
            assert re.search(expected, one_line_error(code, err)), err
            failed += 1
    assert failed


@pytest.mark.parametrize("missing, args, expected", [
    (["pyarrow", "pyarrow.parquet"], ["export", "o.parquet", "--collection", "{p}/c4"], "needs pyarrow"),
    (["fastapi"], ["serve", "--collection", "{p}/c4"], "needs the server packages"),
])
def test_a_missing_package_is_named(place, missing, args, expected):
    code = WITHOUT.format(names=missing, args=[a.format(p=place) for a in args])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False,
                            env={**os.environ, "PYTHONPATH": SRC})
    assert expected in one_line_error(result.returncode, result.stderr, MissingPackage.exit_code)


def test_indexing_into_a_collection_of_another_model_is_refused(run, place):
    code, _, err = run("index", place / "photos", "--collection", place / "c4", "--model", "offline")
    assert "built with model 'other-model', not 'offline" in one_line_error(code, err, Conflict.exit_code)
    with VectorCollection.open(place / "c4") as coll:
        assert len(coll) == 300
