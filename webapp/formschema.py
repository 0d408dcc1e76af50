"""JSON Schema forms: turn a schema and its UI schema into fields for Jinja2, read a submitted
HTML form back into typed data, and validate it on the server with jsonschema.

The UI schema follows react-jsonschema-form (`ui:order`, `ui:widget`, `ui:help`,
`ui:placeholder`, `ui:title`), so forms written for SpiffArena render here too; `ui:locale`
holds per-language overrides of titles, help texts and option names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from webapp.formats import FORMAT_CHECKER
from webapp.text import has_line_break

DOCUMENT_ACCEPT = ".pdf,.jpg,.jpeg,.png"
# A document field's file arrives among the request's files; the form posts back the token of
# the file submitted so far in a hidden input named `<field>__current`.
CURRENT_SUFFIX = "__current"


@dataclass
class Field:
    name: str
    widget: str  # text|textarea|select|radio|checkbox|number|date|email|hidden|file
    label: str
    required: bool = False
    help: str = ""
    placeholder: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    accept: str = ""  # file fields: the file types the browser offers to choose
    # When the field applies (JSON Schema if/then): any of these {field: [values]} holds.
    show_when: list[dict[str, list]] = field(default_factory=list)
    shown: bool = True  # as the values stand now: False hides it until a choice brings it

    @property
    def is_file(self) -> bool:
        """An uploaded document; `value` is then its token (the file submitted so far)."""
        return self.widget == "file"


@dataclass
class FormView:
    title: str
    description: str
    fields: list[Field]
    errors: list[str] = field(default_factory=list)  # errors that belong to no single field


def _ui_for(ui: dict, locale: str | None) -> dict:
    """The UI schema with the locale's overrides merged over it."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ui.items() if k != "ui:locale"}
    for key, value in ((ui.get("ui:locale") or {}).get(_lang(locale)) or {}).items():
        if isinstance(value, dict):
            merged.setdefault(key, {}).update(value)
        else:
            merged[key] = value
    return merged


@dataclass
class Foreground:
    """What a task's page puts first, above its form, as the task's UI schema says: the earlier
    steps whose latest submission the person decides on ("ui:first": task ids, or "facts" for
    the case's published facts), a sentence filled from the facts ("ui:firstText", with
    {fact} placeholders), and the values fields start with ("ui:prefill": a fact's name)."""

    steps: list[str]
    facts: bool
    text: str
    prefill: dict[str, Any]


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def foreground(ui: dict | None, locale: str | None, facts: dict | None) -> Foreground:
    ui, facts = _ui_for(ui or {}, locale), facts or {}
    first = [str(x) for x in ui.get("ui:first") or [] if isinstance(x, str)]
    text = str(ui.get("ui:firstText") or "")
    names = _PLACEHOLDER.findall(text)
    # A sentence with a fact the case does not have yet says nothing rather than "{x}".
    if any(facts.get(n) in (None, "") for n in names):
        text = ""
    else:
        text = _PLACEHOLDER.sub(lambda m: str(facts[m.group(1)]), text)
    prefill = {
        name: facts[opts["ui:prefill"]]
        for name, opts in ui.items()
        if isinstance(opts, dict) and facts.get(opts.get("ui:prefill")) is not None
    }
    return Foreground(
        steps=[x for x in first if x != "facts"],
        facts="facts" in first,
        text=text,
        prefill=prefill,
    )


def conditions(schema: dict) -> dict[str, list[dict[str, list]]]:
    """The fields that apply only under a condition, from the schema's own `if`/`then` (at the
    top or in `allOf`): a field not required at the top that a `then` requires applies when
    one of those `if`s holds. Only `if`s made of `const`/`enum` on properties are read; a
    field under any other kind of condition is left alone (always shown)."""
    top = set(schema.get("required", []))
    found: dict[str, list[dict[str, list]]] = {}
    opaque: set[str] = set()
    for rule in [schema, *(schema.get("allOf") or [])]:
        if not isinstance(rule, dict) or "if" not in rule or "then" not in rule:
            continue
        when = _simple_condition(rule["if"])
        for name in (rule["then"] or {}).get("required", []):
            if name in top:
                continue
            if when is None:
                opaque.add(name)
            else:
                found.setdefault(name, []).append(when)
    return {name: whens for name, whens in found.items() if name not in opaque}


def _simple_condition(rule) -> dict[str, list] | None:
    props = rule.get("properties") if isinstance(rule, dict) else None
    if not props or set(rule) - {"properties", "required"}:
        return None
    when = {}
    for name, check in props.items():
        if isinstance(check, dict) and "const" in check and set(check) == {"const"}:
            when[name] = [check["const"]]
        elif isinstance(check, dict) and isinstance(check.get("enum"), list) and len(check) == 1:
            when[name] = list(check["enum"])
        else:
            return None
    return when


def applies(whens: list[dict[str, list]], data: dict) -> bool:
    """Whether a conditional field applies to these values; while a deciding value is not
    chosen yet, it does (nothing is hidden before the choice that hides it)."""
    if not whens:
        return True
    for when in whens:
        if any(data.get(name) in (None, "") for name in when):
            return True
        if all(data.get(name) in values for name, values in when.items()):
            return True
    return False


def drop_inapplicable(schema: dict, data: dict) -> dict:
    """The values without those of fields that do not apply (an ID number typed before
    choosing 单位会员): hidden on the page, so neither validated nor kept."""
    whens = conditions(schema)
    return {k: v for k, v in data.items() if applies(whens.get(k, []), data)}


def _lang(locale: str | None) -> str:
    return (locale or "").split("_")[0]


def _options(prop: dict, ui: dict) -> list[tuple[str, str]]:
    if "oneOf" in prop:
        pairs = [(str(o.get("const")), str(o.get("title", o.get("const")))) for o in prop["oneOf"]]
    else:
        pairs = [(str(v), str(v)) for v in prop.get("enum", [])]
    names = ui.get("ui:enumNames")
    if names and len(names) == len(pairs):
        pairs = [(value, str(name)) for (value, _), name in zip(pairs, names, strict=True)]
    return pairs


def _widget(prop: dict, ui: dict) -> str:
    wanted = ui.get("ui:widget")
    kind = prop.get("type")
    if prop.get("format") == "document":
        return "file"  # only document fields have an upload path behind them
    if wanted in ("textarea", "radio", "select", "hidden", "checkbox", "date", "email"):
        return wanted
    if "oneOf" in prop or "enum" in prop:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("number", "integer"):
        return "number"
    if prop.get("format") in ("date", "email"):
        return prop["format"]
    return "text"


def _accept(ui: dict) -> str:
    return str((ui.get("ui:options") or {}).get("accept") or DOCUMENT_ACCEPT)


def option_labels(schema: dict, ui: dict | None, locale: str | None) -> dict[str, dict[str, str]]:
    """For each field with options: value → label in the user's language."""
    ui = _ui_for(ui or {}, locale)
    return {
        name: dict(_options(prop, ui.get(name, {})))
        for name, prop in schema.get("properties", {}).items()
        if "oneOf" in prop or "enum" in prop
    }


def build_form(
    schema: dict,
    ui: dict | None,
    locale: str | None,
    values: dict | None = None,
    errors: dict[str, list[str]] | None = None,
) -> FormView:
    """The fields of a form, in order, labelled in the user's language, with values and errors."""
    ui = _ui_for(ui or {}, locale)
    values, errors = values or {}, errors or {}
    props = schema.get("properties", {})
    order = [n for n in ui.get("ui:order", []) if n in props]
    order += [n for n in props if n not in order]
    required = set(schema.get("required", []))
    whens = conditions(schema)
    fields = []
    for name in order:
        prop, field_ui = props[name], ui.get(name, {})
        widget = _widget(prop, field_ui)
        attrs = {k: prop[k] for k in ("minLength", "maxLength", "minimum", "maximum") if k in prop}
        if prop.get("type") == "integer":
            attrs["step"] = 1
        elif prop.get("type") == "number":
            attrs["step"] = "any"
        fields.append(
            Field(
                name=name,
                widget=widget,
                label=str(field_ui.get("ui:title") or prop.get("title") or name),
                required=name in required or name in whens,
                help=str(field_ui.get("ui:help") or prop.get("description") or ""),
                placeholder=str(field_ui.get("ui:placeholder") or ""),
                options=_options(prop, field_ui),
                value=values.get(name, prop.get("default")),
                errors=errors.get(name, []),
                attrs=attrs,
                accept=_accept(field_ui) if widget == "file" else "",
                show_when=whens.get(name, []),
                shown=applies(whens.get(name, []), values),
                # Required under its condition: marked so, as the condition is what shows it.
            )
        )
    return FormView(
        title=str(ui.get("ui:title") or schema.get("title") or ""),
        description=str(ui.get("ui:description") or schema.get("description") or ""),
        fields=fields,
        errors=errors.get("", []),
    )


def read_submission(schema: dict, form) -> dict[str, Any]:
    """Typed data from a submitted HTML form; what cannot be converted is kept as text so that
    validation reports it. Empty fields are left out, as if never filled. A document field gets
    the token of the file submitted so far; services.documents.accept_uploads adds new files."""
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        if kind == "boolean":
            data[name] = form.get(name) in ("on", "true", "1", "yes")
            continue
        is_document = prop.get("format") == "document"
        raw = form.get(name + CURRENT_SUFFIX if is_document else name)
        if raw is None:
            continue
        raw = raw.strip()
        if raw == "":
            continue
        if kind == "integer":
            data[name] = _to_number(raw, int)
        elif kind == "number":
            data[name] = _to_number(raw, float)
        else:
            data[name] = raw
    return drop_inapplicable(schema, data)


def _to_number(raw: str, kind):
    try:
        value = kind(raw)
    except ValueError:
        return raw
    if kind is float and not math.isfinite(value):
        return raw  # "inf", "nan", "1e999": no amount, and no JSON number either
    if kind is float and value.is_integer():
        return int(value)
    return value


def validate(schema: dict, data: dict, ui: dict | None = None) -> dict[str, list[str]]:
    """Errors by field name ('' for the form as a whole); empty when the data is valid."""
    validator = Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
    errors: dict[str, list[str]] = {}
    single_line = single_line_fields(schema, ui)
    for name, value in data.items():
        if not storable(value):
            errors[name] = [_("This value contains characters or numbers that cannot be stored.")]
        elif name in single_line and isinstance(value, str) and has_line_break(value):
            # A name or a title ends up in mail subjects and one-line displays, where a line
            # break would cut it and make the rest look like a header or a new paragraph.
            errors[name] = [_("This field takes a single line: please remove the line breaks.")]
    for error in validator.iter_errors(data):
        for name, message in _explain(error, data, schema):
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
    return errors


def single_line_fields(schema: dict, ui: dict | None) -> set[str]:
    """The text fields of a form shown as one line (every string field but textareas)."""
    ui = ui or {}
    return {
        name
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict)
        and prop.get("type") == "string"
        and _widget(prop, ui.get(name) if isinstance(ui.get(name), dict) else {}) != "textarea"
    }


# No form nests deeper than a few levels; a limit keeps hostile nesting from exhausting the stack.
MAX_DEPTH = 20


def storable(value, depth: int = 0) -> bool:
    """Whether every database we run on keeps the value: PostgreSQL refuses a NUL in text and
    NaN or infinity in JSON, text must encode as UTF-8 (no lone surrogates), and nesting stays
    within MAX_DEPTH."""
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


def _explain(error, data: dict, schema: dict):
    """(field, translated message) pairs for one jsonschema error."""
    path = list(error.absolute_path)
    name = str(path[0]) if path else ""
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        for missing in expected:
            if missing not in data:
                yield missing, _("This field is required.")
        return
    if kind == "additionalProperties":
        yield "", _("The form contains fields it does not know.")
        return
    prop = schema.get("properties", {}).get(name, {})
    if kind == "const" and prop.get("type") == "boolean":
        message = _("Please tick this box to continue.")
    elif kind in ("enum", "oneOf", "const"):
        message = _("Please choose one of the options.")
    elif kind == "type":
        message = {
            "integer": _("Please enter a whole number."),
            "number": _("Please enter a number."),
        }.get(expected, _("This value has the wrong type."))
    elif kind == "minLength":
        message = _("Please enter at least %(n)d characters.", n=expected)
    elif kind == "maxLength":
        message = _("Please enter at most %(n)d characters.", n=expected)
    elif kind in ("minimum", "exclusiveMinimum"):
        message = (
            _("The value must be greater than %(n)s.", n=expected)
            if kind == "exclusiveMinimum"
            else _("The value must be at least %(n)s.", n=expected)
        )
    elif kind in ("maximum", "exclusiveMaximum"):
        message = _("The value must be at most %(n)s.", n=expected)
    elif kind == "pattern":
        message = _("The value does not have the expected form.")
    elif kind == "format":
        message = {
            "cn-uscc": _(
                "This is not a valid unified social credit code (18 characters, check "
                "character included)."
            ),
            "cn-ric": _("This is not a valid resident ID number."),
            "email": _("Please enter a valid e-mail address."),
            "date": _("Please enter a date as YYYY-MM-DD."),
        }.get(expected, _("The value does not have the expected form."))
    else:
        message = _("This value is not accepted.")
    yield name, message
