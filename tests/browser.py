"""Opening pages in a real browser: Debian's Chromium driven by Playwright (no downloads)."""
import contextlib
import os

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def open_page(path, width=1300, height=900):
    """A Playwright page showing the file at `path`; collects console errors in page.errors
    and the addresses of any requests beyond the file itself in page.requests."""
    assert os.path.exists(CHROMIUM), "Chromium is missing: apt-get install chromium"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        page_url = "file://" + os.path.abspath(path)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))
            page.requests = []
            page.on("request", lambda r: page.requests.append(r.url) if r.url != page_url else None)
            page.goto(page_url)
            yield page
        finally:
            browser.close()
