"""A live server on a free loopback port and Debian's Chromium driven by Playwright.

axe-core checks every page these tests visit (tests/browser/axe.py, the `axe_every_page`
fixture): a WCAG 2 A/AA violation fails the test that showed the page.

Without /usr/bin/chromium the browser tests are skipped with a message, unless
REQUIRE_ALL=1 (as in CI), where a missing browser is a failure (tests/needs.py)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser import axe
from tests.needs import needs
from webapp import create_app
from webapp.extensions import db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    browser_tests = [item for item in items if "browser" in item.keywords]
    if browser_tests:
        mark = needs(
            Path(CHROMIUM).exists(),
            f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)",
        )
        for item in browser_tests:
            item.add_marker(mark)


@pytest.fixture
def live_server(database_url, tmp_path):
    """The app on a fresh copy of the template database, served on 127.0.0.1 in a thread."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "live",
            "LOGIN_LIFETIME_HOURS": 24 * 365 * 10,  # the journey travels weeks, logged in
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            # Needed on PostgreSQL; made the server's own address once its port is known.
            "PUBLIC_BASE_URL": "http://127.0.0.1",
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_terminal_summary(terminalreporter):
    if axe.SPENT["pages"]:
        terminalreporter.write_line(
            f"axe-core: {axe.SPENT['pages']} page states checked in {axe.SPENT['seconds']:.1f} s; "
            f"{axe.FLUSH['seconds']:.1f} s with the pages opened again"
        )


@pytest.fixture(autouse=True)
def axe_every_page(request, monkeypatch):
    """Every context a test opens through `browser` is watched by axe-core (tests/browser/axe.py).

    The live server is made a dependency so that it is still serving when the pages left open
    are checked at the end of the test."""
    if "browser" not in request.fixturenames:
        yield
        return
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server")
    from playwright.sync_api import Browser, BrowserContext, Page

    watcher = axe.Watcher()
    new_context, close, close_page = Browser.new_context, BrowserContext.close, Page.close

    def watched_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        watcher.watch(context)
        return context

    def watched_page(self, *args, **kwargs):
        # Browser.new_page opens a context of its own, which closes with the page.
        return watched_context(self, *args, **kwargs).new_page()

    def checked_close(self, *args, **kwargs):
        watcher.flush(self)
        return close(self, *args, **kwargs)

    def checked_page_close(self, *args, **kwargs):
        if not self.is_closed():
            if len(self.context.pages) == 1:  # Browser.new_page's own context closes with it
                watcher.flush(self.context)
            else:
                watcher.inspect(self)
        return close_page(self, *args, **kwargs)

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    monkeypatch.setattr(BrowserContext, "close", checked_close)
    monkeypatch.setattr(Page, "close", checked_page_close)
    yield watcher
    report = watcher.finish()
    if report:
        pytest.fail(report, pytrace=False)
