"""Uploaded files live only as their items: a rejected upload is not kept or listed, a removed one is deleted,
and skip messages name an upload as the client sent it, not by its server path."""
from __future__ import annotations

import io

from PIL import Image

from .conftest import KEY
from .test_search_api import png

AUTH = {"X-API-Key": KEY}


def wav() -> bytes:
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x01" * 8000)
    return out.getvalue()


def bomb() -> bytes:
    """A small PNG that decodes to 81 megapixels, past the decoder's limit."""
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    return out.getvalue()


def test_rejected_uploads_are_neither_kept_nor_listed(writable):
    client, folder, _ = writable
    files = [("files", ("good.png", png((240, 240, 10)), "image/png")),
             ("files", ("corrupt.png", png((1, 2, 3))[:60] + b"\x00" * 200, "image/png")),
             ("files", ("sound.wav", wav(), "audio/wav")),  # the test model embeds no audio
             ("files", ("bomb.png", bomb(), "image/png"))]
    report = client.post("/api/items", files=files, headers=AUTH).json()
    uploads = folder / "uploads"
    assert report["added"] == 1 and len(report["ids"]) == 1, report
    assert [str(path) for path in uploads.iterdir()] == report["ids"]
    skipped = " ".join(report["skipped"])
    assert all(f"files[{n}] ({name})" in skipped for n, name in ((1, "corrupt.png"), (2, "sound.wav"),
                                                                  (3, "bomb.png"))), skipped
    assert str(uploads) not in skipped and "tmp" not in skipped


def test_removing_an_uploaded_item_deletes_its_file(writable):
    client, folder, root = writable
    report = client.post("/api/items", files=[("files", ("new.png", png((240, 240, 10)), "image/png"))],
                         headers=AUTH).json()
    (uploaded,) = report["ids"]
    assert client.delete("/api/items", params={"id": uploaded}, headers=AUTH).json() == {"removed": 1}
    assert not any((folder / "uploads").iterdir())
    red = str((root / "red.png").resolve())
    assert client.delete("/api/items", params={"id": red}, headers=AUTH).json() == {"removed": 1}
    assert (root / "red.png").is_file()  # a file under a root is the user's: removing its item keeps it
