"""How much of a request the app reads: every route a small body (MAX_REQUEST_BYTES), the routes
that take documents or diagrams more, and a form at most MAX_FORM_PARTS fields.

The limits are enforced on what is read, not on what Content-Length announces: a chunked body
(no Content-Length, e.g. through gunicorn) is cut off at the same size with 413. They are set
per request from the view's mark before anything reads the body, so they also hold for the
CSRF check, which parses the form before any view runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO
from urllib.parse import parse_qsl

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

LIMIT_ATTRIBUTE = "body_limit"
# Bundles, forms and task data nest a dozen levels; deeper JSON would only exhaust the stack
# of whatever walks it next (jsonschema, the JSON column), so it is refused when read.
MAX_JSON_DEPTH = 64


class TooDeep(ValueError):
    """A JSON body nested deeper than MAX_JSON_DEPTH."""


def body_limit(limit: int | str) -> Callable:
    """Let a view read bodies up to `limit` bytes, or up to the setting of that name."""

    def mark(view: Callable) -> Callable:
        setattr(view, LIMIT_ATTRIBUTE, limit)
        return view

    return mark


class _FormParser(FormDataParser):
    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        # Werkzeug counts only multipart parts; a urlencoded body is split into pairs at once,
        # so two million empty keys would each become an entry before any view could object.
        body = stream.read()
        if self.max_form_parts is not None and body.count(b"&") >= self.max_form_parts:
            raise RequestEntityTooLarge()
        items = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        return stream, self.cls(items), self.cls()


class _WholeOrRefused(LimitedStream):
    """A body without Content-Length, read up to the limit. Werkzeug's own stream returns a body
    cut at the limit as if it were whole (a 20 MB bundle read as its first 2 MB), so a body
    still going on at the limit is refused instead."""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


class LimitedRequest(Request):
    """Flask's request, reading no more than its view allows."""

    form_data_parser_class = _FormParser

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None or not current_app:
            return super().max_content_length
        view = current_app.view_functions.get(self.endpoint or "")
        limit = getattr(view, LIMIT_ATTRIBUTE, "MAX_REQUEST_BYTES")
        return current_app.config[limit] if isinstance(limit, str) else limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        # The server ends the body itself (chunked through gunicorn): only the limit stops it.
        if limit is not None and "wsgi.input_terminated" in self.environ:
            if self.content_length is None:
                return _WholeOrRefused(self.environ["wsgi.input"], limit, is_max=True)
        return get_input_stream(self.environ, max_content_length=limit)


def json_body():
    """The request's body as JSON: ValueError if it is none, TooDeep if it nests too deep.
    Parsed here rather than by request.get_json, whose RecursionError ends in a 500."""
    try:
        value = json.loads(request.get_data(cache=True) or b"null")
    except RecursionError:
        raise TooDeep() from None
    if nests_deeper(value, MAX_JSON_DEPTH):
        raise TooDeep()
    return value


def nests_deeper(value, limit: int) -> bool:
    """Whether lists and objects in `value` nest more than `limit` levels (walked without
    recursion, so any depth can be measured)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def register(app: Flask) -> None:
    """Make every request of the app a LimitedRequest."""
    app.request_class = LimitedRequest
