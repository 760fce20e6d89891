"""The `mmret` command in a shell pipeline whose reader leaves early (issue 28, item 2): it stops quietly with
the exit status a shell gives a command that SIGPIPE ended (141), without a traceback or an error line."""
import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}
MMRET = f"{shlex.quote(sys.executable)} -m mmret.cli"
LONG_ID = "note-" * 300  # 50 results' ids fill more than a pipe holds (64 KiB), so `head -1` leaves mid-write


@pytest.fixture(scope="module")
def notes(tmp_path_factory):
    """1,500 text items (unit vectors in the English offline bridge's space) with ids longer than a pipe buffer
    needs."""
    root = tmp_path_factory.mktemp("notes")
    vectors = np.random.default_rng(0).standard_normal((1500, 384)).astype(np.float32)
    np.save(root / "v.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    rows = [{"id": f"{LONG_ID}{i}", "text": f"note {i}", "folder": ["inbox", "archive"][i % 2]} for i in range(1500)]
    (root / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    imported = subprocess.run([sys.executable, "-m", "mmret.cli", "import", root / "v.npy", "--metadata",
                               root / "rows.jsonl", "--collection", root / "c", "--model", "offline-bridge"],
                              capture_output=True, text=True, env=ENV, check=False)
    assert imported.returncode == 0, imported.stderr
    return root / "c"


def piped(command: str) -> subprocess.CompletedProcess:
    """`mmret COMMAND | head -1` in bash; the exit status is mmret's (PIPESTATUS[0])."""
    line = f"{MMRET} {command} | head -1; exit ${{PIPESTATUS[0]}}"
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=ENV, timeout=600, check=False)


@pytest.mark.parametrize("command", ['search "a note" --paths -k 50', "ls --json"])
def test_a_reader_that_leaves_ends_the_command_quietly(notes, command):
    result = piped(f"{command} --collection {shlex.quote(str(notes))}")
    assert result.stdout.startswith(("note-", '{"id": "note-')) and result.stdout.count("\n") == 1
    assert result.stderr == ""  # no "Broken pipe", no traceback, no "Exception ignored"
    assert result.returncode == 141
