"""What a URL may carry before any of it reaches the database: ids within the column's range,
page numbers within reason, no NUL characters (PostgreSQL refuses them in text, which would
be a 500 instead of a 404)."""

from __future__ import annotations

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# The largest id an INTEGER column holds on PostgreSQL.
MAX_ID = 2**31 - 1
# Deep enough for any real list; a deeper page would only make the database skip rows.
MAX_PAGE = 10_000


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive integer an id column can hold; anything else is not routed."""

    def __init__(self, map, **kwargs):  # noqa: A002 (werkzeug's name)
        super().__init__(map, min=1, max=MAX_ID)


def page_arg() -> int:
    """The ?page= of a list, between 1 and MAX_PAGE."""
    return min(max(1, request.args.get("page", 1, int)), MAX_PAGE)


def id_arg(name: str) -> int | None:
    """An optional id in the query string; 404 if it cannot be one."""
    value = request.args.get(name, type=int)
    if value is not None and not 1 <= value <= MAX_ID:
        abort(404)
    return value


def _refuse_nul() -> None:
    if "\x00" in request.path:
        abort(404)
    # The API answers a bad query value with its own field errors.
    if not request.path.startswith("/api/") and any("\x00" in v for v in request.args.values()):
        abort(400)


def register(app: Flask) -> None:
    """Install the converter and the guard."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(_refuse_nul)
