"""Filters that match nothing say so (issue 28, item 3): `mmret ls` and `mmret search` print "no results" on
stderr with the filter that matched no item and the stored values it may have meant; values are trimmed like
keys, and a relative path_prefix is taken from the working directory."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[2] / "src")}  # runs elsewhere
TAGS = [f"{colour}-{thing}" for colour in ("red", "blue", "green", "grey") for thing in ("cup", "car", "cat", "hat")]


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    """64 stored notes under root/notes/, with a folder (2 values) and a tag (16 values)."""
    root = tmp_path_factory.mktemp("filters")
    vectors = np.random.default_rng(1).standard_normal((64, 384)).astype(np.float32)
    np.save(root / "v.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    rows = [{"id": f"n{i}", "path": str(root / "notes" / f"n{i}.txt"), "folder": ["inbox", "archive"][i % 2],
             "tag": TAGS[i % 16]} for i in range(64)]
    (root / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = mmret(root, "import", root / "v.npy", "--metadata", root / "rows.jsonl", "--model", "offline-bridge")
    assert result.returncode == 0, result.stderr
    return root


def mmret(cwd, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args), "--collection", cwd / "c"], cwd=cwd,
                          capture_output=True, text=True, env=ENV, timeout=600, check=False)


@pytest.mark.parametrize("command", [["ls"], ["search", "a note"]])
@pytest.mark.parametrize("flt, reason", [
    ("folder=inbx", "--filter on 'folder' ('inbx') matches no item; stored values of folder: 'archive', 'inbox'"),
    ("modality=txt", "--filter on 'modality' ('txt') matches no item; stored values of modality: 'vector'"),
    ("tag=blue-caat", ("--filter on 'tag' ('blue-caat') matches no item; closest stored values of tag: "
     "'blue-cat', 'blue-hat', 'blue-car'")),
    ("Tag=red-cup", "--filter on 'Tag' ('red-cup') matches no item; no item has the key 'Tag', did you mean 'tag'?"),
])
def test_a_filter_that_matches_nothing_says_which_and_what_is_stored(notes, command, flt, reason):
    result = mmret(notes, *command, "--filter", flt)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"mmret: no results: {reason}"


def test_filters_that_match_apart_but_not_together_say_so(notes):
    result = mmret(notes, "ls", "--filter", "folder=inbox", "--filter", "tag=red-car")  # red-car: odd rows only
    assert result.stdout == "" and "no results: no item matches all the filters together" in result.stderr


def test_values_are_trimmed_and_a_relative_path_prefix_is_taken_from_the_working_directory(notes):
    trimmed = mmret(notes, "ls", "--json", "--filter", "folder = inbox ")
    assert len(trimmed.stdout.splitlines()) == 32 and trimmed.stderr == ""
    relative = mmret(notes, "search", "a note", "-k", "64", "--json", "--filter", "path_prefix=notes/n1")
    paths = [row["path"] for row in json.loads(relative.stdout)["results"]]
    expected = {str(notes / "notes" / f"n{i}.txt") for i in range(64) if str(i).startswith("1")}
    assert set(paths) == expected and relative.stderr == ""
