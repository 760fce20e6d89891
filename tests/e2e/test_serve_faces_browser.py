"""The page's faces in a real browser (chromium, Playwright) against a real `mmret serve` with a write key: search
by the face in an uploaded photo draws the matching face's box on each result, and the People view groups, shows
and names people. Screenshots go to tests-artifacts/serve/."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "tests-artifacts" / "serve"
KEY = "faces-key-0123456789"
PEOPLE = ("Adrien_Brody", "Alvaro_Uribe")


def wait_ready(url: str, server: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mmret serve exited: {server.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mmret serve was not ready within {seconds} s")


@contextmanager
def serving_with_key(collection: Path, root: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path), "MMRET_API_KEYS": KEY}
    server = subprocess.Popen([sys.executable, "-m", "mmret.cli", "serve", "--collection", str(collection), "--root",
                               str(root), "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def faces_site(tmp_path_factory, data_dir, offline_encoder):
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    pytest.importorskip("dlib")
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed: no browser test")
    from mmret.api import Collection

    media = tmp_path_factory.mktemp("faces") / "media"
    media.mkdir()
    for person in PEOPLE:
        for photo in sorted((data_dir / "lfw-158" / "images" / person).glob("*.jpg"))[:4]:
            shutil.copy(photo, media)
    folder = media.parent / "collection"
    Collection.open(folder, model=offline_encoder).add([media], workers=0, faces=True)
    with serving_with_key(folder, media) as url:
        yield url, media


def test_face_search_draws_boxes_and_people_can_be_named(faces_site):
    from playwright.sync_api import sync_playwright

    url, media = faces_site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page.set_default_timeout(60_000)
        page.goto(url)
        page.click("#options summary")
        page.fill("#key", KEY)
        page.dispatch_event("#key", "change")
        page.check("#by-face")
        page.set_input_files("#file", str(min(media.glob("Adrien*"))))
        page.wait_for_function("document.querySelectorAll('.card img.thumb').length >= 3 && "
                               "[...document.querySelectorAll('.card img.thumb')].every(i => i.src.startsWith('data:'))")
        names = page.locator(".card .name").all_inner_texts()
        assert all(name.startswith("Adrien_Brody") for name in names[:4])  # the query photo and his 3 others
        page.screenshot(path=ARTIFACTS / "faces-01-search-by-face.png", full_page=True)

        page.click("#show-people")
        page.click("#group-faces")
        page.wait_for_function("document.querySelectorAll('#people-list .card').length >= 2")
        page.once("dialog", lambda dialog: dialog.accept("Adrien"))
        page.locator("#people-list .card").first.get_by_role("button", name="Name…").click()
        page.wait_for_function("[...document.querySelectorAll('#people-list .card .name')]"
                               ".some(n => n.textContent === 'Adrien')")
        page.screenshot(path=ARTIFACTS / "faces-02-people.png", full_page=True)
        browser.close()
