"""The stored name of an upload (issue 28, item 5): the client's file name, safe, unique."""
import pytest

from mmret.serve.upload_names import MAX_NAME_BYTES, create_unique, safe_name


@pytest.mark.parametrize(("client", "modality", "extension", "stored"), [
    ("3_jackson_0.wav", "audio", ".wav", "3_jackson_0.wav"),
    ("C:\\Users\\me\\Music\\take 1.FLAC", "audio", ".flac", "take 1.FLAC"),
    ("clip.mp4", "audio", ".m4a", "clip.mp4.m4a"),  # the content decides the kind, the name keeps its words
    ("photo.jpeg", "image", ".jpg", "photo.jpeg"),
    ("..", "image", ".png", "upload.png"),
    (None, "video", ".webm", "upload.webm"),
    ("a\nb\tc\x00d.png", "image", ".png", "abcd.png"),
])
def test_safe_name(client, modality, extension, stored):
    assert safe_name(client, modality, extension) == stored


def test_long_names_are_cut_on_a_character_boundary():
    name = safe_name("東" * 300 + ".png", "image", ".png")
    assert name.endswith(".png") and len(name.encode()) <= MAX_NAME_BYTES + 4 and name[:-4] == "東" * 66


def test_a_taken_name_gets_the_next_free_number(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"old")
    (tmp_path / "a-2.wav").write_bytes(b"old")
    path, file = create_unique(tmp_path, "a.wav")
    with file:
        file.write(b"new")
    assert path == tmp_path / "a-3.wav" and (tmp_path / "a.wav").read_bytes() == b"old"
