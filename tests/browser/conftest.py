"""Browser fixtures: Debian's Chromium driven by Playwright against a real server, screenshots.

Set SURVEY_SCREENSHOTS=/some/dir to keep the screenshots and printed pages for a look.
"""

import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("SURVEY_SCREENSHOTS")


@pytest.fixture
def server(app):
    """Serve the test's app on a free loopback port in a thread; return its base URL."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's Chromium once for the session (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing under CI: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} missing: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def keep(tmp_path):
    """Return a function saving bytes in SURVEY_SCREENSHOTS (else tmp_path); it gives the path."""
    folder = Path(SHOTS) if SHOTS else tmp_path / "shots"

    def save(name, data):
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_bytes(data)
        return path

    return save


@pytest.fixture
def shot(keep):
    """Return a function saving a page's full-page screenshot as name.png; it gives the path."""

    def take(page, name):
        return keep(f"{name}.png", page.screenshot(full_page=True))

    return take
