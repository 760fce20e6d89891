"""The web page in a real browser: Debian's chromium, driven by Playwright, against a real `mmret serve` subprocess
on 127.0.0.1, over a collection of shared Flickr8k photos and a two-shot video made from two more of them.

Screenshots go to tests-artifacts/serve/ (git-ignored)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "tests-artifacts" / "serve"
PHOTOS = 24
STARTUP_SECONDS = 180
WATER = "children playing in the water"  # the caption of the video's second shot's photo
NOTE = '<img src=x onerror="window.injected = 1"> harbour <b>lights</b>'  # a text item: untrusted stored text


def write_video(path: Path, photos: list[Path], seconds: float = 3.0, fps: int = 10) -> Path:
    """A WebM (VP8) showing each photo for `seconds`: one shot per photo."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for photo in photos:
            frame = np.asarray(Image.open(photo).convert("RGB").resize((160, 120)))
            for _ in range(int(seconds * fps)):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"mmret serve exited: {server.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"mmret serve was not ready within {STARTUP_SECONDS} s")


@pytest.fixture(scope="module")
def site(tmp_path_factory, data_dir, offline_encoder):
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed: pip install playwright")
    pytest.importorskip("av", reason="PyAV is needed to make the test video")
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium): no browser test")
    from mmret.api import Collection

    records = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())
    media = tmp_path_factory.mktemp("site") / "media"
    media.mkdir()
    for record in records[:PHOTOS]:
        shutil.copy(data_dir / "flickr8k-500" / record["image"], media)
    shots = [data_dir / "flickr8k-500" / records[i]["image"] for i in (40, 41)]  # workers on a beam; water
    write_video(media / "clip.webm", shots)
    (media / "harbour-notes.txt").write_text(NOTE, encoding="utf-8")
    folder = media.parent / "collection"
    report = Collection.open(folder, model=offline_encoder).add([media], workers=0)
    assert report.added == PHOTOS + 2, report.summary()
    with serving(folder, media) as url:
        yield url, media, records


@contextmanager
def serving(collection: Path, root: Path):
    """A real `mmret serve` of `collection` on a free loopback port, serving files under `root` only."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen([sys.executable, "-m", "mmret.cli", "serve", "--collection", str(collection), "--root",
                               str(root), "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_ready(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.fixture
def browser(site):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, site):
    # The test's own predicates are evaluated as strings, which the page's CSP forbids; the page itself is
    # checked under its policy in test_page_works_under_its_content_security_policy.
    tab = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab.set_default_timeout(30_000)
    tab.goto(site[0])
    return tab


def test_page_works_under_its_content_security_policy(browser, site):
    tab = browser.new_page()
    messages = []
    tab.on("console", lambda message: messages.append(message.text))
    tab.goto(site[0])
    tab.fill("#q", WATER)
    tab.wait_for_selector(".card img", timeout=30_000)
    assert not [m for m in messages if "Content Security Policy" in m or "Refused" in m], messages


def card_names(page) -> list[str]:
    return page.locator(".card .name").all_inner_texts()


def test_search_upload_more_like_this_and_details(page, site):
    _, media, records = site
    page.fill("#q", WATER)
    page.wait_for_selector(".card")
    page.wait_for_function("document.querySelector('#status').textContent.includes('result')")
    assert len(card_names(page)) >= 10
    page.screenshot(path=ARTIFACTS / "01-text-search.png", full_page=True)

    first = page.locator(".card").first
    first.get_by_role("button", name="Details").click()
    page.wait_for_selector("#explanation table")  # the offline pack explains a photo's score by word and class
    assert page.locator("#explanation tbody tr").count() >= len(WATER.split())
    page.screenshot(path=ARTIFACTS / "02-details-explanation.png")
    page.keyboard.press("Escape")

    page.fill("#q", "")
    photo = media / Path(records[5]["image"]).name
    page.set_input_files("#file", str(photo))
    page.wait_for_function(f"document.querySelector('.card .name')?.textContent === '{photo.name}'")
    assert page.locator("#query-file").inner_text().startswith(f"file: {photo.name}")
    page.screenshot(path=ARTIFACTS / "03-image-upload.png", full_page=True)

    page.locator(".card").nth(1).get_by_role("button", name="More like this").click()
    page.wait_for_function("document.querySelector('#query-file').textContent.startsWith('like ')")
    page.wait_for_function("!document.querySelector('#status').textContent.startsWith('Searching')")
    chip = page.locator("#query-file").inner_text()
    assert chip.split()[1] not in card_names(page)  # the liked file is left out
    page.screenshot(path=ARTIFACTS / "04-more-like-this.png", full_page=True)


def test_less_relevant_results_wait_behind_show_more(page):
    """The offline model ships a relevance curve: of the 24 photos and the video, those below its default cut are
    hidden until "Show ... less relevant results" is pressed; the duplicates view opens (no copies here)."""
    page.fill("#q", WATER)
    page.wait_for_function("document.querySelector('#status').textContent.includes('less relevant')")
    cards, below = page.locator(".card").count(), page.locator(".card[data-below]").count()
    assert 0 < below < cards and page.locator(".card:visible").count() == cards - below
    relevance = [float(t.split()[1]) for t in page.locator(".card .score").all_inner_texts()]
    assert relevance == sorted(relevance, reverse=True)
    page.screenshot(path=ARTIFACTS / "08-relevant-first.png", full_page=True)
    page.click("#below")
    assert page.locator(".card:visible").count() == cards and page.locator("#below").is_hidden()
    page.click("#show-duplicates")
    page.wait_for_selector("#duplicates h2")
    assert page.locator("#duplicates h2").inner_text().startswith("0 groups of copies")


def test_video_result_plays_from_its_segment(page):
    page.click("#options summary")
    page.select_option("#modality", "video")
    page.fill("#q", WATER)
    page.wait_for_selector(".card .play")
    card = page.locator(".card").first
    assert "3.0–6.0 s (shot)" in card.inner_text()  # the water shot, not the workers'
    card.locator(".play").click()
    page.wait_for_function("(() => { const v = document.querySelector('.card video');"
                           " return v && !v.paused && v.currentTime >= 3.0; })()")
    start = page.evaluate("document.querySelector('.card video').currentTime")
    assert 3.0 <= start < 6.0
    page.wait_for_timeout(600)
    page.screenshot(path=ARTIFACTS / "05-video-from-segment.png")


def test_bad_upload_shows_the_reason(page, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not a photo\n" * 20)
    page.set_input_files("#file", str(bad))
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "415" in error.inner_text() and "not a supported image" in error.inner_text()
    assert page.locator("#more").is_hidden() and page.locator(".card").count() == 0
    page.screenshot(path=ARTIFACTS / "06-bad-upload.png")


def test_keyboard_and_phone_layout(page):
    page.locator("body").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("a dog running on grass")
    page.wait_for_selector(".card")
    page.keyboard.press("Tab")  # from the box onwards every control is reachable
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    columns = page.evaluate("getComputedStyle(document.querySelector('#results')).gridTemplateColumns.split(' ').length")
    assert columns == 2
    page.screenshot(path=ARTIFACTS / "07-phone.png", full_page=False)


@pytest.fixture(scope="module")
def refusing_site(tmp_path_factory, data_dir, offline_encoder):
    """A server whose collection holds a photo under its --root, one deleted since, and a photo and a video
    outside the root: a card name -> the reason the server gives for not serving its file (None: served)."""
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed: pip install playwright")
    pytest.importorskip("av", reason="PyAV is needed to make the test video")
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (apt-get install chromium): no browser test")
    from mmret.api import Collection

    records = json.loads((data_dir / "flickr8k-500" / "captions.json").read_text())
    photos = [data_dir / "flickr8k-500" / records[i]["image"] for i in (0, 1, 2, 40)]
    base = tmp_path_factory.mktemp("refusing")
    root, outside = base / "root", base / "outside"
    root.mkdir(), outside.mkdir()
    shutil.copy(photos[0], root / "kept.jpg")
    gone = shutil.copy(photos[1], root / "gone.jpg")
    far = shutil.copy(photos[2], outside / "far.jpg")
    clip = write_video(outside / "clip.webm", photos[2:])
    report = Collection.open(base / "collection", model=offline_encoder).add([root, outside], workers=0)
    assert report.added == 4, report.summary()
    Path(gone).unlink()
    reasons = {"kept.jpg": None, "gone.jpg": f"{gone}: the item's file is gone",
               "far.jpg": f"{far}: outside the server's roots", "clip.webm": f"{clip}: outside the server's roots"}
    with serving(base / "collection", root) as url:
        yield url, reasons


def test_refused_files_show_the_servers_reason(browser, refusing_site):
    url, reasons = refusing_site
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page.set_default_timeout(30_000)
    page.goto(url)
    page.fill("#q", "a photo")
    page.wait_for_function(f"document.querySelectorAll('.card').length === {len(reasons)}")
    if page.locator("#below").is_visible():  # cards below the default relevance load once they are shown
        page.click("#below")
    refused = len([reason for reason in reasons.values() if reason])
    page.wait_for_function(f"document.querySelectorAll('.card .unavailable').length === {refused}")
    for card in page.locator(".card").all():
        name = card.locator(".name").inner_text()
        if reasons[name]:
            assert card.locator(".unavailable").inner_text() == f"Not shown: {reasons[name]}"
            assert card.locator("img, video, .play").count() == 0  # no broken picture or dead player is left
        else:
            card.locator("img").wait_for()
            page.wait_for_function("[...document.querySelectorAll('.card img')].every(i => i.complete)")
            assert card.locator("img").evaluate("picture => picture.naturalWidth") > 0
    page.screenshot(path=ARTIFACTS / "08-refused-files.png", full_page=True)

    far = page.locator(".card", has_text="far.jpg")
    far.get_by_role("button", name="Details").click()
    note = page.locator("#detail-media .unavailable")
    note.wait_for()
    assert note.inner_text() == f"Not shown: {reasons['far.jpg']}"
    assert page.locator("#detail-media img").count() == 0
    page.close()


def test_keyword_mode_highlights_the_words_escaped_and_the_query_stays_in_the_url(page, site):
    page.locator("#options summary").click()
    page.select_option("#mode", "keyword")
    page.fill("#q", "harbour")
    page.wait_for_function("document.querySelector('.card .snippet mark')?.textContent === 'harbour'")
    assert card_names(page) == ["harbour-notes.txt"]
    snippet = page.locator(".card .snippet").first
    assert snippet.locator("img, b").count() == 0 and "<img src=x" in snippet.inner_text()
    assert page.evaluate("window.injected") is None
    assert "found by words #1" in page.locator(".card .channels").first.inner_text()
    assert page.evaluate("location.search") == "?q=harbour&mode=keyword"
    page.screenshot(path=ARTIFACTS / "07-keyword-snippet.png", full_page=True)

    page.goto(f"{site[0]}/?q=clip&mode=keyword")  # a shared link: the search runs as it was
    page.wait_for_function("document.querySelector('.card .name')?.textContent === 'clip.webm'")
    assert page.input_value("#q") == "clip" and page.input_value("#mode") == "keyword"
    page.goto(f"{site[0]}/?q={WATER.replace(' ', '+')}")  # no mode: hybrid where the collection has words
    page.wait_for_function("document.querySelector('#status').textContent.includes('result')")
    assert page.input_value("#mode") == "" and len(card_names(page)) >= 10
