"""Tests for mmret.data.sources: folder walks, manifests, filtering, dedup and errors, on real files."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from mmret.data.items import Item
from mmret.data.sources import MEDIA_EXTENSIONS, Skipped, SourceError, iter_items
from mmret.data.text_files import TEXT_FILE_LIMIT


def make_png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2, 2), (200, 10, 10)).save(path)
    return path


def make_file(path: Path, content: bytes = b"\0" * 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def collect(paths, **kwargs):
    skipped: list[Skipped] = []
    items = list(iter_items(paths, on_skip=skipped.append, **kwargs))
    return items, skipped


def test_media_extensions_map_every_listed_type_to_its_modality():
    assert {ext for ext, modality in MEDIA_EXTENSIONS.items() if modality == "image"} == {
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
    assert {ext for ext, modality in MEDIA_EXTENSIONS.items() if modality == "audio"} == {
        ".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac"}
    assert {ext for ext, modality in MEDIA_EXTENSIONS.items() if modality == "video"} == {
        ".mp4", ".webm", ".mkv", ".mov"}


def test_folder_walk_is_sorted_depth_first_with_modalities_from_extensions(tmp_path):
    for name in ["b.png", "a/z.wav", "c.MP4", "a/y/x.jpeg", "A.gif"]:
        make_file(tmp_path / name)
    items, skipped = collect([tmp_path])
    assert [Path(item.path).relative_to(tmp_path).as_posix() for item in items] == [
        "A.gif", "a/y/x.jpeg", "a/z.wav", "b.png", "c.MP4"]
    assert [item.modality for item in items] == ["image", "image", "audio", "image", "video"]
    assert skipped == []


def test_folder_items_have_resolved_path_ids_and_folder_metadata(tmp_path, monkeypatch):
    make_png(tmp_path / "photos" / "top.png")
    make_png(tmp_path / "photos" / "cats" / "tabby" / "1.png")
    monkeypatch.chdir(tmp_path)
    nested, top = list(iter_items(["photos"]))  # "cats" sorts before "top.png"
    assert top.id == top.path == str((tmp_path / "photos" / "top.png").resolve())
    assert Path(nested.id).is_absolute()
    assert (top.metadata, nested.metadata) == ({"folder": "photos"}, {"folder": "tabby"})
    assert top.text is None


def test_a_files_metadata_does_not_depend_on_the_root_it_was_reached_from(tmp_path):
    leopard = tmp_path / "pics" / "Leopards" / "1.png"
    make_png(leopard)
    reached = [next(iter_items([root])).metadata for root in (tmp_path, tmp_path / "pics", leopard.parent, leopard)]
    assert reached == [{"folder": "Leopards"}] * 4


def test_hidden_files_and_folders_are_skipped_silently(tmp_path):
    make_png(tmp_path / "seen.png")
    make_png(tmp_path / ".hidden.png")
    make_png(tmp_path / ".cache" / "thumb.png")
    make_file(tmp_path / ".DS_Store")
    items, skipped = collect([tmp_path])
    assert [Path(item.path).name for item in items] == ["seen.png"]
    assert skipped == []


def test_unsupported_files_are_reported_once_each_and_the_walk_goes_on(tmp_path):
    make_file(tmp_path / "README.doc", b"hello")
    make_file(tmp_path / "Makefile", b"all:")
    make_png(tmp_path / "photo.png")
    items, skipped = collect([tmp_path])
    assert len(items) == 1
    assert skipped == [
        Skipped(str(tmp_path / "Makefile"), "unsupported file type (no extension)"),
        Skipped(str(tmp_path / "README.doc"), "unsupported file type '.doc'"),
    ]


def test_text_files_in_a_folder_are_text_items_of_their_content(tmp_path):
    notes = make_file(tmp_path / "notes" / "Cake.TXT", "\ufefflemon cake: 200 g flour, 3 eggs".encode())
    plan = make_file(tmp_path / "plan.md", "# Trip\n\nSail to Île d'Yeu 🐬".encode())
    long = make_file(tmp_path / "long.txt", ("é" * TEXT_FILE_LIMIT).encode())  # 2 bytes each: cut mid-character
    make_file(tmp_path / "latin1.txt", "café".encode("latin-1"))
    make_file(tmp_path / "blank.md", b" \n\t")
    items, skipped = collect([tmp_path])
    by_name = {Path(item.path).name: item for item in items}
    assert set(by_name) == {"Cake.TXT", "plan.md", "long.txt"}
    assert by_name["Cake.TXT"] == Item(id=str(notes.resolve()), modality="text", path=str(notes.resolve()),
                                       text="lemon cake: 200 g flour, 3 eggs", metadata={"folder": "notes"})
    assert by_name["plan.md"].text == plan.read_text(encoding="utf-8")
    assert by_name["long.txt"].text == "é" * (TEXT_FILE_LIMIT // 2) and long.stat().st_size == 2 * TEXT_FILE_LIMIT
    assert skipped == [
        Skipped(str(tmp_path / "blank.md"), "empty text file"),
        Skipped(str(tmp_path / "latin1.txt"), "not UTF-8 text: byte 0xe9 at offset 3; save it as UTF-8"),
    ]
    (single,) = iter_items(plan)
    assert single == by_name["plan.md"]


def test_excluded_folders_are_never_walked(tmp_path):
    make_png(tmp_path / "photo.png")
    make_file(tmp_path / "coll" / "collection.lock")
    make_file(tmp_path / "coll" / "vectors.npy")
    make_file(tmp_path / "coll" / "notes.txt", b"stored text")
    items, skipped = collect([tmp_path], exclude=[tmp_path / "sub" / ".." / "coll"])
    assert [Path(item.path).name for item in items] == ["photo.png"] and skipped == []


def test_a_single_media_file_is_a_source(tmp_path):
    song = make_file(tmp_path / "song.flac")
    (item,) = iter_items([song])
    assert (item.id, item.modality, item.metadata) == (str(song.resolve()), "audio", {"folder": tmp_path.name})


def test_a_single_path_string_is_not_iterated_character_by_character(tmp_path):
    make_png(tmp_path / "a.png")
    assert len(list(iter_items(str(tmp_path)))) == 1


def test_symlink_loops_are_reported_not_followed(tmp_path):
    make_png(tmp_path / "a" / "x.png")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    items, skipped = collect([tmp_path])
    assert [Path(item.path).name for item in items] == ["x.png"]
    assert skipped == [Skipped(str(tmp_path / "a" / "loop"), "symlink loop: leads back to a folder above it")]


def test_broken_symlink_is_reported(tmp_path):
    os.symlink(tmp_path / "gone.png", tmp_path / "link.png")
    items, skipped = collect([tmp_path])
    assert items == []
    assert [entry.where for entry in skipped] == [str(tmp_path / "link.png")]


def test_the_same_file_reached_twice_is_yielded_once_and_reported(tmp_path):
    inner = make_png(tmp_path / "root" / "sub" / "x.png")
    os.symlink(inner, tmp_path / "root" / "alias.png")
    items, skipped = collect([tmp_path / "root", tmp_path / "root" / "sub", inner])
    assert [item.id for item in items] == [str(inner.resolve())]
    assert len(skipped) == 3
    assert all(entry.reason.startswith("duplicate") for entry in skipped)


def test_modality_filter_yields_only_requested_and_reports_the_rest(tmp_path):
    make_png(tmp_path / "a.png")
    make_file(tmp_path / "b.mp3")
    make_file(tmp_path / "c.mkv")
    items, skipped = collect([tmp_path], modalities={"image"})
    assert [item.modality for item in items] == ["image"]
    assert [(Path(entry.where).name, entry.reason) for entry in skipped] == [
        ("b.mp3", "modality 'audio' not requested (only image)"),
        ("c.mkv", "modality 'video' not requested (only image)"),
    ]


def test_unknown_modality_in_filter_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="smell"):
        iter_items([tmp_path], modalities={"image", "smell"})


def test_missing_path_raises_before_anything_is_yielded(tmp_path):
    make_png(tmp_path / "a.png")
    missing = tmp_path / "nope"
    with pytest.raises(SourceError, match="nope: no such file or folder"):
        iter_items([tmp_path, missing])


def test_walk_is_lazy(tmp_path):
    make_png(tmp_path / "a" / "1.png")
    make_png(tmp_path / "b" / "2.png")
    items = iter_items([tmp_path])
    first = next(items)
    (tmp_path / "b" / "3.png").write_bytes(b"")  # appears after the walk started, before it reached b/
    assert [Path(first.path).name] + [Path(item.path).name for item in items] == ["1.png", "2.png", "3.png"]


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_manifest_resolves_relative_paths_and_keeps_metadata_as_strings(tmp_path):
    photo = make_png(tmp_path / "data" / "img" / "cat.png")
    manifest = write_csv(tmp_path / "data" / "m.csv", "path,text,label,score\nimg/cat.png,a cat,cat,0.9\n")
    (item,) = iter_items([manifest])
    assert (item.id, item.path) == (str(photo.resolve()), str(photo.resolve()))
    assert (item.modality, item.text) == ("image", "a cat")
    assert item.metadata == {"label": "cat", "score": "0.9"}


def test_csv_id_and_modality_columns_override_the_defaults(tmp_path):
    make_file(tmp_path / "clip.bin")
    manifest = write_csv(tmp_path / "m.csv", "id,path,modality\nclip-1,clip.bin,audio\n")
    (item,) = iter_items([manifest])
    assert (item.id, item.modality, item.metadata) == ("clip-1", "audio", {})


def test_text_only_rows_become_text_items(tmp_path):
    manifest = write_csv(tmp_path / "m.csv", 'id,path,text\nq1,,"a dog, running"\n,,a cat\n')
    first, second = iter_items([manifest])
    assert (first.id, first.modality, first.text, first.path) == ("q1", "text", "a dog, running", None)
    assert second.id == f"{manifest.resolve()}:3"
    assert second.text == "a cat"


def test_bad_csv_rows_are_reported_with_line_numbers_and_the_rest_are_yielded(tmp_path):
    make_png(tmp_path / "ok.png")
    make_file(tmp_path / "notes.txt")
    manifest = write_csv(
        tmp_path / "m.csv",
        "path,text,modality\n"
        "ok.png,,\n"              # line 2: fine
        ",,\n"                    # line 3: neither path nor text
        "missing.png,,\n"         # line 4: no such file
        "ok.png,,smell\n"         # line 5: unknown modality
        "notes.txt,,\n"           # line 6: no modality for .txt
        "ok.png\n"                # line 7: wrong field count
        '"a\nb.png",x,\n'         # lines 8-9: multi-line field, no such file; reported at its first line
        "\n"                      # line 10: blank, ignored
        ",a caption,\n",          # line 11: fine
    )
    items, skipped = collect([manifest])
    assert [item.modality for item in items] == ["image", "text"]
    assert items[1].id == f"{manifest.resolve()}:11"
    assert [entry.where for entry in skipped] == [f"{manifest}:{line}" for line in (3, 4, 5, 6, 7, 8)]
    reasons = [entry.reason for entry in skipped]
    assert reasons[0] == "row has neither 'path' nor 'text'"
    assert reasons[1] == "no such file: missing.png"
    assert "unknown modality 'smell'" in reasons[2]
    assert reasons[3].startswith("unsupported file type '.txt'")
    assert reasons[4] == "expected 3 fields as in the header, found 1"


def test_csv_with_byte_order_mark_reads_its_first_column(tmp_path):
    make_png(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("path\na.png\n".encode("utf-8-sig"))
    assert len(list(iter_items([manifest]))) == 1


def test_manifest_without_path_or_text_column_is_a_source_error(tmp_path):
    manifest = write_csv(tmp_path / "m.csv", "file,caption\na.png,x\n")
    with pytest.raises(SourceError, match=r"m\.csv: a manifest needs a 'path' or 'text' column.*'file', 'caption'"):
        iter_items([manifest])


def test_empty_manifest_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="columns found: none"):
        iter_items([write_csv(tmp_path / "m.csv", "")])


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_jsonl_manifest_keeps_json_types_in_metadata(tmp_path):
    photo = make_png(tmp_path / "p.png")
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        {"path": str(photo), "text": "red", "tags": ["a", "b"], "year": 2024, "ok": True, "extra": None},
        {"text": "just words", "id": 7},
    ])
    media, words = iter_items([manifest])
    assert media.path == str(photo.resolve())
    assert media.metadata == {"tags": ["a", "b"], "year": 2024, "ok": True, "extra": None}
    assert (words.id, words.modality, words.text) == ("7", "text", "just words")


def test_bad_jsonl_lines_are_reported_with_line_numbers(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", [
        {"text": "fine"},
        "{not json",
        "",
        "[1, 2]",
        {"path": 5},
        {"caption": "no path or text"},
        {"text": "also fine"},
    ])
    items, skipped = collect([manifest])
    assert [item.text for item in items] == ["fine", "also fine"]
    assert [entry.where for entry in skipped] == [f"{manifest}:{line}" for line in (2, 4, 5, 6)]
    assert skipped[0].reason.startswith("invalid JSON")
    assert skipped[1].reason == "expected a JSON object, got list"
    assert skipped[2].reason == "'path' must be a string, got int"


def test_jsonl_whose_first_record_lacks_path_and_text_is_a_source_error(tmp_path):
    manifest = write_jsonl(tmp_path / "m.jsonl", [{"image": "a.png", "caption": "x"}])
    with pytest.raises(SourceError, match="m.jsonl: a manifest needs a 'path' or 'text' column"):
        iter_items([manifest])


def test_jsonl_that_is_not_json_lines_is_a_source_error(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('[{"path": "a.png"}]\n')
    with pytest.raises(SourceError, match="not a JSONL manifest"):
        iter_items([manifest])


def test_parquet_manifest_rows_and_types(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    from pyarrow import parquet

    photo = make_png(tmp_path / "p.png")
    table = pyarrow.table({"path": ["p.png", None, "gone.png"], "text": [None, "words", None], "n": [1, 2, 3]})
    parquet.write_table(table, tmp_path / "m.parquet")
    items, skipped = collect([tmp_path / "m.parquet"])
    assert [(item.modality, item.metadata) for item in items] == [("image", {"n": 1}), ("text", {"n": 2})]
    assert items[0].id == str(photo.resolve())
    assert skipped == [Skipped(f"{tmp_path / 'm.parquet'}:3", "no such file: gone.png")]


def test_parquet_without_pyarrow_tells_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    manifest = make_file(tmp_path / "m.parquet")
    with pytest.raises(ImportError, match="m.parquet: reading Parquet manifests needs pyarrow: pip install pyarrow"):
        iter_items([manifest])


def test_manifest_and_folder_reaching_the_same_file_yield_it_once(tmp_path):
    make_png(tmp_path / "img" / "a.png")
    manifest = write_csv(tmp_path / "m.csv", "path,label\nimg/a.png,x\n")
    items, skipped = collect([tmp_path / "img", manifest])
    assert len(items) == 1 and items[0].metadata == {"folder": "img"}
    assert [entry.where for entry in skipped] == [f"{manifest}:2"]


def test_caltech101_walk_finds_every_image_and_class(data_dir):
    images = data_dir / "caltech101" / "images"
    if not images.is_dir():
        pytest.skip(f"{images} not found")
    items, skipped = collect([images])
    assert len(items) == 2893
    assert {item.modality for item in items} == {"image"}
    assert len({item.metadata["folder"] for item in items}) == 101
    assert skipped == []


def test_a_link_to_the_parent_is_not_followed_out_of_the_indexed_folder(tmp_path):
    make_png(tmp_path / "imgs" / "x.png")
    make_png(tmp_path / "sibling" / "private.png")
    os.symlink("..", tmp_path / "imgs" / "up")
    items, skipped = collect([tmp_path / "imgs"])
    assert [Path(item.path).name for item in items] == ["x.png"]
    assert [entry.where for entry in skipped] == [str(tmp_path / "imgs" / "up")]
    assert skipped[0].reason.startswith("symlink leads outside the indexed folder")
    assert str(tmp_path) not in skipped[0].reason  # the target is not told (a server reports skips to clients)


def test_links_to_files_outside_the_folder_are_reported_and_links_inside_followed(tmp_path):
    make_png(tmp_path / "elsewhere.png")
    inner = make_png(tmp_path / "imgs" / "sub" / "inner.png")
    os.symlink(tmp_path / "elsewhere.png", tmp_path / "imgs" / "out.png")
    os.symlink(inner.parent, tmp_path / "imgs" / "alias")
    items, skipped = collect([tmp_path / "imgs"])
    assert [item.id for item in items] == [str(inner.resolve())]
    assert sorted((Path(e.where).name, e.reason.split(";")[0]) for e in skipped) == [
        ("inner.png", "duplicate of an item already read: " + str(inner.resolve())),
        ("out.png", "symlink leads outside the indexed folder")]


def test_a_self_referencing_link_chain_is_reported_as_a_loop(tmp_path):
    make_png(tmp_path / "x.png")
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    items, skipped = collect([tmp_path])
    assert [Path(item.path).name for item in items] == ["x.png"]
    assert [(Path(e.where).name, e.reason) for e in skipped] == [
        ("a", "symlink loop: the link never resolves"), ("b", "symlink loop: the link never resolves")]


def test_unicode_and_newline_file_names_become_items_with_their_exact_paths(tmp_path):
    names = ["café ☕.png", "line\nbreak.png", "日本語.jpg"]
    for name in names:
        make_png(tmp_path / name)
    items, skipped = collect([tmp_path])
    assert skipped == []
    assert sorted(Path(item.path).name for item in items) == sorted(names)
    assert all(Path(item.path).is_file() for item in items)
