"""A manifest inside the roots reaches no further than a path would: a row naming a file elsewhere is skipped
with a reason that names nothing outside the roots, and skip messages do not tell where a symlink leads."""
from __future__ import annotations

from .conftest import KEY, square
from .test_search_api import png

AUTH = {"X-API-Key": KEY}


def test_manifest_rows_outside_the_roots_are_skipped_without_naming_them(writable):
    client, _, root = writable
    outside = root.parent / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png((9, 9, 9)))
    (root / "link.png").symlink_to(outside / "secret.png")
    square(root / "dark.png", (30, 30, 30))
    rows = ["/etc/passwd,text", f"{outside}/secret.png,", "../outside/secret.png,", "link.png,",
            f"{outside}/absent.png,", "dark.png,"]
    (root / "evil.csv").write_text("path,modality\n" + "\n".join(rows) + "\n")
    report = client.post("/api/items/paths", json={"paths": ["evil.csv"]}, headers=AUTH).json()
    assert report["added"] == 1 and len(report["skipped"]) == 5, report
    assert all("outside the folders this server may read" in reason for reason in report["skipped"])
    told = " ".join(report["skipped"])
    assert "/etc" not in told and str(outside) not in told and "secret" not in told
    found = client.get("/api/search", params={"q": "grey", "k": 50}).json()["results"]
    assert {r["path"].rsplit("/", 1)[-1] for r in found} == {"red.png", "green.png", "blue.png", "dark.png"}


def test_a_folder_link_leading_out_is_skipped_without_its_target(writable):
    client, _, root = writable
    outside = root.parent / "elsewhere"
    outside.mkdir()
    (outside / "other.png").write_bytes(png((9, 9, 9)))
    (root / "escape").symlink_to(outside, target_is_directory=True)
    report = client.post("/api/items/paths", json={"paths": [str(root)]}, headers=AUTH).json()
    assert len(report["skipped"]) == 1 and "symlink leads outside" in report["skipped"][0], report
    assert str(outside) not in report["skipped"][0]
