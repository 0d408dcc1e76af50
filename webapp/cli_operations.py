"""Operations commands for production: consistency checks and the like."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Add the operations commands to `flask`."""
