"""The index engine from the `mmret` command: import precomputed vectors, optimize, filtered search with the
range/IN syntax (issue 10: numbers stored as text match, repeated keys OR, unknown keys warn), migrate."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def mmret(*args):
    result = subprocess.run([sys.executable, "-m", "mmret.cli", *map(str, args)], capture_output=True, text=True,
                            env=ENV, timeout=600, check=False)
    return result


@pytest.fixture(scope="module")
def imported(tmp_path_factory, offline_encoder):
    """Real text embeddings of 600 captions-like texts, as a user's precomputed vectors with CSV-typed metadata."""
    root = tmp_path_factory.mktemp("import")
    folders = ["cats", "dogs", "cars"]
    texts = [f"a photo of {['a cat', 'a dog', 'a car'][i % 3]} number {i}" for i in range(600)]
    vectors = offline_encoder.encode("text", texts)
    np.save(root / "vectors.npy", vectors)
    rows = [{"id": f"t{i}", "text": text, "folder": folders[i % 3], "width": str(320 * (1 + i % 4))}
            for i, text in enumerate(texts)]
    (root / "meta.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = mmret("import", root / "vectors.npy", "--metadata", root / "meta.jsonl", "--collection", root / "c",
                   "--model", "offline-bridge")  # the model that made them
    assert result.returncode == 0, result.stderr
    assert "imported 600 vectors; 600 items stored" in result.stdout
    return root / "c"


def test_optimize_then_filtered_search_follows_the_documented_semantics(imported):
    collection = imported
    result = mmret("optimize", "--collection", collection, "--index", "HNSW16", "--target-recall", "0.9")
    assert result.returncode == 0, result.stderr
    assert "shared: 600 vectors, HNSW16" in result.stdout
    result = mmret("search", "--collection", collection, "--text", "a dog", "-k", "50", "--json",
                   "--filter", "width=640", "--filter", "folder=dogs", "--filter", "folder=cats",
                   "--filter", "width<=700")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["results"]
    expected = [i for i in range(600) if 320 * (1 + i % 4) == 640 and i % 3 in (0, 1)]
    assert len(expected) > 50 and len(rows) == 50
    assert {row["id"] for row in rows} <= {f"t{i}" for i in expected}
    assert all(row["metadata"]["width"] == "640" and row["metadata"]["folder"] in ("cats", "dogs") for row in rows)
    assert "dog" in rows[0]["text"]
    warned = mmret("search", "--collection", collection, "--text", "a dog", "--filter", "Folder=dogs")
    assert warned.returncode == 0
    assert "no item of" in warned.stderr and "'Folder'" in warned.stderr and warned.stdout == ""
    bad = mmret("search", "--collection", collection, "--text", "a dog", "--filter", "width")
    assert bad.returncode == 2 and "--filter 'width'" in bad.stderr


def test_import_refuses_what_it_cannot_store(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((3, 4), np.float32))
    result = mmret("import", tmp_path / "v.npy", "--collection", tmp_path / "c")
    assert result.returncode == 2 and "give --model NAME or --model-id ID" in result.stderr
    result = mmret("import", tmp_path / "v.npy", "--collection", tmp_path / "c", "--model-id", "ext")
    assert result.returncode == 2 and "has norm 2.000000, expected L2-normalised" in result.stderr
    result = mmret("migrate", "--collection", tmp_path / "c")
    assert result.returncode == 0 and "format is current" in result.stdout
