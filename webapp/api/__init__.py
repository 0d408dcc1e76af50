"""The JSON API, version 1: what the pages do, for other systems (an association's website,
its finance software). Routes live in the modules below; each registers on `bp`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Imported for their routes, after `bp` exists.
from webapp.api import (  # noqa: E402,F401
    access,
    cases,
    models,
    public,
    spec,
    tasks,
)
