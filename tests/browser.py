"""Opening pages in a real browser: Debian's Chromium driven by Playwright (no downloads)."""
import contextlib
import os

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium():
    """Chromium, started once for several pages (a test module's fixture), as starting it is slow."""
    assert os.path.exists(CHROMIUM), "Chromium is missing: apt-get install chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise AssertionError("Playwright is missing: pip install -e '.[test]' (it drives Debian's Chromium; "
                             "no `playwright install` is needed)") from None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def open_page(path, width=1300, height=900, browser=None):
    """A Playwright page showing the file at `path`, in `browser` or in a Chromium of its own;
    collects console errors in page.errors and the addresses of any requests beyond the file
    itself in page.requests."""
    if browser is None:
        with chromium() as browser, open_page(path, width, height, browser) as page:
            yield page
        return
    page_url = "file://" + os.path.abspath(path)
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.requests = []
        page.on("request", lambda r: page.requests.append(r.url) if r.url != page_url else None)
        page.goto(page_url)
        yield page
    finally:
        context.close()
