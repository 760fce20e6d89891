"""Stored XSS replayed in a real browser, for benchmarks/serve_attack.py: items whose text, metadata keys and
values and file names hold script payloads are stored through the API, the page is opened in headless Chromium
(Debian's, driven by Playwright, no network beyond loopback), a search renders them as cards and each card's
details are opened. No payload may run (each sets a global or fetches a marker), the payloads must show as text,
and the page must carry its CSP and nosniff. The page is loaded twice: under its policy, and with the policy
bypassed, so the escaping is shown to hold on its own."""
from __future__ import annotations

import shutil
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MARKER = "xss-marker"
# no "/" in a file name: those payloads only set the global
NAME_PAYLOAD = "<img src=x onerror=window.__xss=1>"
PHOTO_NAME_PAYLOAD = "<svg onload=window.__xss=2>"
TEXT_PAYLOAD = f"<script>window.__xss=3</script><img src=x onerror=\"fetch('/{MARKER}?text')\"> a dog on grass"
KEY_PAYLOAD = "<img src=x onerror=window.__xss=4>"
VALUE_PAYLOAD = f"<iframe src=\"javascript:parent.__xss=5;fetch('/{MARKER}?meta')\"></iframe>"
UPLOAD_NAME_PAYLOAD = "\"><img src=x onerror=window.__xss=6>.jpg"


def store_payloads(base: str, root: Path, key: str) -> list[str]:
    """Stores the hostile items; returns the strings the page must show as text."""
    folder = root / "xss"
    folder.mkdir(exist_ok=True)
    (folder / f"{NAME_PAYLOAD}.txt").write_text(TEXT_PAYLOAD)
    photo = min(root.glob("*.jpg"))
    shutil.copy(photo, folder / f"{PHOTO_NAME_PAYLOAD}.jpg")
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as http:
        added = http.post("/api/items/paths", json={"paths": [str(folder)]})
        added.raise_for_status()
        uploaded = http.post("/api/items", files={"files": (UPLOAD_NAME_PAYLOAD, photo.read_bytes(), "image/jpeg")})
        uploaded.raise_for_status()
        for item in [str(folder / f"{PHOTO_NAME_PAYLOAD}.jpg"), *uploaded.json()["ids"]]:
            http.patch("/api/items/metadata", json={"id": item, "metadata": {KEY_PAYLOAD: VALUE_PAYLOAD}}
                       ).raise_for_status()
    return [NAME_PAYLOAD, PHOTO_NAME_PAYLOAD, "<script>window.__xss=3</script>", KEY_PAYLOAD, VALUE_PAYLOAD]


def visit(browser, base: str, bypass_csp: bool) -> dict:
    """Opens the page, searches, opens every card's details; what ran and what showed."""
    context = browser.new_context(bypass_csp=bypass_csp)
    page = context.new_page()
    page.set_default_timeout(60_000)
    hostile, refused = [], []
    page.on("request", lambda r: hostile.append(r.url) if MARKER in r.url or r.url.endswith("/x") else None)
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(base)
    page.fill("#q", "a dog on grass")
    page.wait_for_selector(".card")
    page.locator("#status", has_text="result").wait_for()  # a string predicate would be eval, which CSP forbids
    cards = page.locator(".card")
    count, shown = cards.count(), [page.locator("body").inner_text()]
    for number in range(count):
        cards.nth(number).get_by_role("button", name="Details").click()
        shown.append(page.locator("#detail").inner_text())
        page.keyboard.press("Escape")
    page.wait_for_timeout(1000)  # a late onerror or iframe load would still be counted
    ran = page.evaluate("() => window.__xss ?? null")
    context.close()
    return {"cards": count, "ran": ran, "hostile_requests": hostile, "csp_refusals": refused,
            "text": "\n".join(shown)}


def replay_stored_xss(base: str, root: Path, key: str) -> tuple[bool, str]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        return False, f"{CHROMIUM} is not installed: not replayed"
    payloads = store_payloads(base, root, key)
    page_headers = httpx.get(f"{base}/static/index.html").headers
    api_headers = httpx.get(f"{base}/api/search", params={"q": "dog"}).headers
    headers_ok = ("script-src 'self'" in page_headers.get("content-security-policy", "")
                  and page_headers.get("x-content-type-options") == "nosniff"
                  and api_headers.get("x-content-type-options") == "nosniff")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            visits = {"with CSP": visit(browser, base, False), "CSP bypassed": visit(browser, base, True)}
        finally:
            browser.close()
    parts, clean = [], headers_ok
    for name, seen in visits.items():
        literal = sum(payload in seen["text"] for payload in payloads)
        clean &= (seen["ran"] is None and not seen["hostile_requests"] and not seen["csp_refusals"]
                  and literal == len(payloads))
        parts.append(f"{name}: {seen['cards']} cards, {literal}/{len(payloads)} payloads shown as text, "
                     f"ran {seen['ran']}, hostile requests {len(seen['hostile_requests'])}, "
                     f"CSP refusals {len(seen['csp_refusals'])}")
    return clean, "; ".join(parts) + f"; CSP+nosniff on the page, nosniff on the API: {headers_ok}"
