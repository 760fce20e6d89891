"""What the page relies on to show why an item's file is not shown (issue 28, item 8): the result still carries
its media and thumbnail URLs, and those answer the page's one-byte check with the status and the reason, which
the page (static/app.js, explainRefusal) puts in place of the picture or player. No browser runs here (Debian's
chromium is absent); tests/e2e/test_serve_browser.py drives the page itself where it is."""
from __future__ import annotations

from .conftest import ColourEncoder, client_for, square

ONE_BYTE = {"Range": "bytes=0-0"}  # the page's check asks for one byte, so a served video is never downloaded


def test_refused_files_answer_the_page_check_with_the_reason(tmp_path, media_root):
    from mmret.api import Collection

    (tmp_path / "elsewhere").mkdir()
    elsewhere = square(tmp_path / "elsewhere" / "night.png", (1, 1, 1))
    gone = square(tmp_path / "elsewhere" / "gone.png", (2, 2, 2))
    with client_for(tmp_path / "c", media_root, tmp_path / "t") as client:
        Collection.open(tmp_path / "c", model=ColourEncoder()).add([elsewhere, gone], workers=0)
        gone.unlink()
        for path, status, reason in ((elsewhere, 403, "outside the server's roots"),
                                     (gone, 404, "the item's file is gone")):
            item = client.get("/api/items", params={"id": str(path.resolve())}).json()
            for url in (item["thumbnail_url"], item["media_url"]):
                refused = client.get(url, headers=ONE_BYTE)
                assert refused.status_code == status, (url, refused.text)
                assert refused.json()["detail"] == f"{path.resolve()}: {reason}"

        clip = str((media_root / "clip.mp4").resolve())
        served = client.get(client.get("/api/items", params={"id": clip}).json()["media_url"], headers=ONE_BYTE)
        assert served.status_code == 206 and len(served.content) == 1

