"""What a newcomer meets first: the home page, the favicon, and the README's commands working
from the repository's root as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_home_says_what_the_site_is_and_how_to_apply(actors):
    page = actors(None).get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="home-steps"' in html
    assert 'href="/register"' in html and 'id="home-board" href="/board"' in html
    assert 'rel="icon"' in html


def test_favicon_answers(actors):
    icon = actors(None).get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"


def test_flask_commands_find_the_app_from_the_root(tmp_path):
    """`.venv/bin/flask …` without FLASK_APP: .flaskenv names the app."""
    env = {k: v for k, v in os.environ.items() if k not in ("FLASK_APP", "FLASK_DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    flask = Path(sys.executable).parent / "flask"
    done = subprocess.run(
        [str(flask), "demo", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Could not locate" not in done.stderr
