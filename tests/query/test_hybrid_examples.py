"""Example queries for `mmret calibrate --hybrid` (mmret.query.hybrid_examples): both file forms, paths read
against the file's folder, and errors that name the file and line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmret.errors import BadInput, NotFound
from mmret.query.hybrid_examples import read_hybrid_examples


def test_tab_separated_queries_with_relative_and_absolute_paths(tmp_path):
    file = tmp_path / "examples.tsv"
    file.write_text("# query\tpath\n\nred kayak KT-4821\tphotos/a.jpg\n  a dog  \t/data/b.jpg\n", encoding="utf-8")
    assert read_hybrid_examples(file) == [("red kayak KT-4821", str((tmp_path / "photos" / "a.jpg").resolve())),
                                          ("a dog", str(Path("/data/b.jpg").resolve()))]


def test_captions_manifest_gives_every_caption_as_a_query_for_its_image(tmp_path):
    tmp_path = tmp_path.resolve()
    records = [{"image": "images/x.jpg", "captions": ["a cat", "a cat asleep"]},
               {"image": "images/y.jpg", "captions": ["a bus"]}]
    (tmp_path / "captions.json").write_text(json.dumps(records), encoding="utf-8")
    expected = [("a cat", str(tmp_path / "images/x.jpg")), ("a cat asleep", str(tmp_path / "images/x.jpg")),
                ("a bus", str(tmp_path / "images/y.jpg"))]
    assert read_hybrid_examples(tmp_path) == expected
    assert read_hybrid_examples(tmp_path / "captions.json") == expected


def test_malformed_or_missing_files_are_named(tmp_path):
    file = tmp_path / "examples.tsv"
    file.write_text("a dog\tb.jpg\njust a query\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"examples.tsv: line 2: expected a query, a tab"):
        read_hybrid_examples(file)
    file.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(BadInput, match="holds no example queries"):
        read_hybrid_examples(file)
    with pytest.raises(NotFound, match="missing.tsv"):
        read_hybrid_examples(tmp_path / "missing.tsv")
    with pytest.raises(NotFound, match="captions manifest"):
        read_hybrid_examples(tmp_path / "none.json")
