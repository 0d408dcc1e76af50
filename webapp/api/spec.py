"""The OpenAPI 3.1 description of the API, kept as openapi.json beside this module (the one
place to edit it) and served as written. tests/test_openapi.py holds it to the routes: an
operation without its description, or a description without its route, fails there."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import current_app

from webapp.api import bp

SPEC_FILE = Path(__file__).with_name("openapi.json")


@cache
def document() -> dict:
    """The OpenAPI document, read once per process."""
    return json.loads(SPEC_FILE.read_text("utf-8"))


@cache
def _body() -> bytes:
    return json.dumps(document(), ensure_ascii=False, indent=1).encode("utf-8")


@bp.get("/openapi.json")
def get_openapi():
    """The OpenAPI document; public, like the API's description on any site."""
    response = current_app.response_class(_body(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
