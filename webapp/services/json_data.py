"""Task data sent as JSON (the API) read the way a submitted HTML form is read: the same
fields, empty ones left out, unticked booleans false. What the schema cannot judge — fields the
form does not have, values a database cannot store — is refused here, field by field."""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _


def read(schema: dict, payload: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The data to validate against the schema, and the errors found before validation."""
    if not isinstance(payload, dict):
        return {}, {"": [_("The data must be an object with the form's fields.")]}
    props = schema.get("properties") or {}
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in payload.items():
        if name not in props:
            errors[name] = [_("This field is not part of the form.")]
            continue
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue  # as an empty HTML field: never filled
        if not storable(value):
            errors[name] = [_("This value contains characters or numbers that cannot be stored.")]
            continue
        data[name] = value
    for name, prop in props.items():
        # An HTML checkbox left unticked sends nothing and is read as false; so here.
        if isinstance(prop, dict) and prop.get("type") == "boolean" and name not in data:
            data[name] = False
    return data, errors


# No form nests deeper than a few levels; a limit keeps hostile nesting from exhausting the stack.
MAX_DEPTH = 20


def storable(value: Any, depth: int = 0) -> bool:
    """Whether a JSON value can be kept in every database we run on: no NUL characters or lone
    surrogates in text (PostgreSQL and UTF-8 refuse them), no NaN or infinite numbers (JSON has
    none, though Python's parser accepts them), nesting within MAX_DEPTH."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        return "\x00" not in value and _encodes(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, bool | int) or value is None:
        return True
    if isinstance(value, list):
        return all(storable(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(storable(k) and storable(v, depth + 1) for k, v in value.items())
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
