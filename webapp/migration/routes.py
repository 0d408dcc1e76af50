"""Process owners move chosen running instances to a newer version of their model."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("migration", __name__)
