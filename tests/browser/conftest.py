"""A live server on a free loopback port and Debian's Chromium driven by Playwright.

Without /usr/bin/chromium the browser tests are skipped with a message, unless
REQUIRE_ALL=1 (as in CI), where a missing browser is a failure (tests/needs.py)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

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
