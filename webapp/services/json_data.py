"""Task data sent as JSON (the API) read the way a submitted HTML form is read: the same
fields, empty ones left out, unticked booleans false. What the schema cannot judge — fields the
form does not have, values a database cannot store — is refused here, field by field."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from webapp.formschema import storable


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
