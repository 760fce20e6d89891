"""Manifests with bad bytes and bad headers: a bad byte fails its row only, a bad header is refused before
anything is created, and `mmret index` leaves no empty collection behind."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from PIL import Image

from mmret.cli import main
from mmret.data.sources import Skipped, SourceError, check_sources, iter_items


def collect(paths):
    skipped: list[Skipped] = []
    return list(iter_items(paths, on_skip=skipped.append)), skipped


@pytest.fixture
def photo(tmp_path) -> Path:
    Image.new("RGB", (4, 4), (10, 200, 10)).save(tmp_path / "ok.png")
    return tmp_path / "ok.png"


def test_a_non_utf8_byte_in_a_csv_fails_its_row_only(tmp_path, photo):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(b"path,text\nok.png,caf\xc3\xa9\n\xff\xfe.png,x\nok.png,bad \xe9 latin-1\n,fine words\n")
    items, skipped = collect([manifest])
    assert [(item.modality, item.text) for item in items] == [("image", "café"), ("text", "fine words")]
    assert skipped == [Skipped(f"{manifest}:3", "not UTF-8 text: byte 0xff"),
                       Skipped(f"{manifest}:4", "not UTF-8 text: byte 0xe9")]


def test_a_non_utf8_byte_in_a_jsonl_line_fails_that_line_only(tmp_path, photo):
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'{"text": "one"}\n{"text": "t\xe9l\xe9"}\n{"path": "ok.png"}\n')
    items, skipped = collect([manifest])
    assert [item.modality for item in items] == ["text", "image"]
    assert skipped == [Skipped(f"{manifest}:2", "not UTF-8 text: byte 0xe9")]


def test_broken_first_jsonl_lines_fail_their_rows_and_the_first_object_gives_the_columns(tmp_path, photo):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"path": "ok.png"\n\n[1]\n' + json.dumps({"path": "ok.png", "tag": "a"}) + "\n")
    items, skipped = collect([manifest])
    assert [item.metadata for item in items] == [{"tag": "a"}]
    assert [(entry.where, entry.reason.split(":")[0]) for entry in skipped] == [
        (f"{manifest}:1", "invalid JSON"), (f"{manifest}:3", "expected a JSON object, got list")]


@pytest.mark.parametrize("content, reason", [
    (b"file,caption\nok.png,x\n", "a manifest needs a 'path' or 'text' column"),
    (b"pa\xffth\nok.png\n", "header: not UTF-8 text: byte 0xff"),
    ("path\nok.png\n".encode("utf-16"), "header: not UTF-8 text"),
])
def test_a_bad_csv_header_is_refused_by_the_check_before_creation(tmp_path, photo, content, reason):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(content)
    with pytest.raises(SourceError, match=f"m.csv: {reason}"):
        check_sources([manifest])


@pytest.fixture
def keep_sigterm():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_mmret_index_of_a_manifest_without_path_column_creates_no_collection(tmp_path, photo, capsys, keep_sigterm):
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,caption\nok.png,x\n")
    assert main(["index", str(manifest), "--collection", str(tmp_path / "coll")]) == 2
    assert "m.csv: a manifest needs a 'path' or 'text' column" in capsys.readouterr().err
    assert not (tmp_path / "coll").exists()
