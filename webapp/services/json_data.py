"""Task data sent as JSON (the API) read the way a submitted HTML form is read: the same
fields, empty ones left out, unticked booleans false. What the schema cannot judge — fields the
form does not have, values a database cannot store — is refused here, field by field."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import gettext as _

from webapp.formschema import drop_inapplicable, storable

# Unknown fields named one by one in an answer; the rest are counted. An answer must not grow
# with what was sent: two million unknown keys once made a 91 MB error.
NAMED_UNKNOWN = 5
LONGEST_NAME = 60


def read(schema: dict, payload: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The data to validate against the schema, and the errors found before validation."""
    if not isinstance(payload, dict):
        return {}, {"": [_("The data must be an object with the form's fields.")]}
    props = schema.get("properties") or {}
    unknown = [name for name in payload if name not in props]
    if unknown and len(payload) > current_app.config["MAX_FORM_PARTS"]:
        return {}, unknown_fields(unknown)  # nothing else is looked at
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = unknown_fields(unknown) if unknown else {}
    for name, value in payload.items():
        if name not in props:
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
    # As the page: a field the data's own choices hide is neither validated nor kept.
    return drop_inapplicable(schema, data), errors


def unknown_fields(names: list[str]) -> dict[str, list[str]]:
    """Errors for fields the form does not have: the first few by name, then their count."""
    errors = {
        _shortened(name): [_("This field is not part of the form.")]
        for name in names[:NAMED_UNKNOWN]
    }
    if len(names) > NAMED_UNKNOWN:
        errors[""] = [
            _(
                "%(count)d fields are not part of the form, the first of them: %(names)s.",
                count=len(names),
                names=", ".join(_shortened(name) for name in names[:NAMED_UNKNOWN]),
            )
        ]
    return errors


def _shortened(name: str) -> str:
    return name if len(name) <= LONGEST_NAME else name[: LONGEST_NAME - 1] + "…"
