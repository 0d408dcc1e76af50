"""Hypothesis strategies for the task forms, made from their JSON Schemas: valid data (from
hypothesis-jsonschema, with strategies for our own formats), and invalid data as one mutation
of valid data, each naming the field that must be reported. Also the oracle: what the forms'
rules say, judged without the app's code (jsonschema with formats checked by python-stdnum)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from hypothesis import assume
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator, FormatChecker
from stdnum.cn import ric, uscc

# Forms live in forms/<process key>/, and a file name may repeat across procedures
# (council_vote.schema.json is admission's and discipline's): a form is (folder, file name).
FORMS_ROOT = Path(__file__).resolve().parent.parent / "forms"
FORMS = FORMS_ROOT / "admission"
# Document fields hold the token of an uploaded document; examples name one of these, and the
# test puts in the token of a real document of the task's own application.
DOCUMENTS = ("{doc0}", "{doc1}", "{doc2}", "{doc3}")
FOREIGN_DOCUMENT = "{foreign_doc}"  # a real document of ANOTHER application
JUNK_PREFIX = "zz_"
# What a single-line field must refuse: every character str.splitlines() breaks at. Written out
# here rather than imported, so that the oracle does not take its rules from the app.
LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def load(name: str, folder: str = "admission") -> dict:
    return json.loads((FORMS_ROOT / folder / name).read_text(encoding="utf-8"))


# --- our formats ---------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Areas whose codes python-stdnum knows for every birth year drawn below.
RIC_AREAS = ("110101", "110105", "310104")


@st.composite
def uscc_codes(draw) -> str:
    """Unified social credit codes with a correct check character."""
    body = draw(st.text("0123456789", min_size=8, max_size=8))
    body += draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    return body + uscc.calc_check_digit(body)


@st.composite
def ric_numbers(draw) -> str:
    """Resident ID numbers: a known area, a real birth date, a correct check digit."""
    born = draw(st.dates(dt.date(1950, 1, 1), dt.date(2005, 12, 31)))
    body = draw(st.sampled_from(RIC_AREAS)) + born.strftime("%Y%m%d")
    body += draw(st.text("0123456789", min_size=3, max_size=3))
    return body + ric.calc_check_digit(body + "0")


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CUSTOM_FORMATS = {
    "cn-uscc": uscc_codes(),
    "cn-ric": ric_numbers(),
    "document": st.sampled_from(DOCUMENTS),
}

ORACLE_FORMATS = FormatChecker(formats=())


@ORACLE_FORMATS.checks("cn-uscc")
def _uscc(value) -> bool:
    return not isinstance(value, str) or uscc.is_valid(value)


@ORACLE_FORMATS.checks("cn-ric")
def _ric(value) -> bool:
    return not isinstance(value, str) or ric.is_valid(value)


@ORACLE_FORMATS.checks("email")
def _email(value) -> bool:
    return not isinstance(value, str) or EMAIL.fullmatch(value) is not None


@ORACLE_FORMATS.checks("date")
def _date(value) -> bool:
    # RFC 3339 full-date, as JSON Schema means it: YYYY-MM-DD and a day that exists.
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


@ORACLE_FORMATS.checks("document")
def _document(value) -> bool:
    return not isinstance(value, str) or value in DOCUMENTS


# --- the shape of a form -----------------------------------------------------------------------


@dataclass
class Form:
    """What the mutations need to know of a schema."""

    name: str
    schema: dict
    folder: str = "admission"  # the procedure's folder under forms/: its UI schema is there

    @cached_property
    def ui(self) -> dict:
        path = FORMS_ROOT / self.folder / self.name.replace(".schema.json", ".uischema.json")
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    @cached_property
    def single_line(self) -> set[str]:
        """Text fields shown as one input line: every string but the textareas."""
        return {
            name
            for name, prop in self.properties.items()
            if prop.get("type") == "string"
            and prop.get("format") != "document"
            and (self.ui.get(name) or {}).get("ui:widget") != "textarea"
        }

    @cached_property
    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema, format_checker=ORACLE_FORMATS)

    @cached_property
    def valid(self) -> st.SearchStrategy[dict]:
        return _valid(self)  # made once: resolving a schema into a strategy is slow

    @property
    def properties(self) -> dict:
        return self.schema["properties"]

    def constraint(self, field: str, keyword: str) -> list:
        """Every value of a keyword for a field, at the top and in if/then branches."""
        found = [self.properties[field][keyword]] if keyword in self.properties[field] else []
        for branch in self.schema.get("allOf", []):
            prop = branch.get("then", {}).get("properties", {}).get(field, {})
            if keyword in prop:
                found.append(prop[keyword])
        return found

    def requirable(self) -> list[str]:
        """Fields that are required, always or in some branch."""
        names = list(self.schema.get("required", []))
        for branch in self.schema.get("allOf", []):
            names += [n for n in branch.get("then", {}).get("required", []) if n not in names]
        return names

    def kind(self, field: str) -> str:
        prop = self.properties[field]
        if prop.get("format") == "document":
            return "document"
        if "oneOf" in prop or "enum" in prop:
            return "choice"
        if prop.get("type") == "boolean":
            return "boolean"
        if prop.get("type") in ("number", "integer"):
            return "number"
        if "format" in prop or "pattern" in prop:
            return "formatted"
        return "text"

    def fields(self, *kinds: str) -> list[str]:
        return [name for name in self.properties if self.kind(name) in kinds]


def form(name: str, folder: str = "admission") -> Form:
    return Form(name, load(name, folder), folder)


def oracle_errors(form: Form, data: dict) -> dict[str, set[str]]:
    """Which fields break the form's rules, and how (jsonschema keywords); {} if none."""
    found: dict[str, set[str]] = {}
    for error in form.validator.iter_errors(data):
        if error.validator == "required":
            for name in error.validator_value:
                if name not in data:
                    found.setdefault(name, set()).add("required")
        elif error.validator == "additionalProperties":
            for name in set(data) - set(form.properties):
                found.setdefault(name, set()).add("additionalProperties")
        else:
            name = str(error.absolute_path[0]) if error.absolute_path else ""
            found.setdefault(name, set()).add(error.validator)
    for name, value in data.items():
        if isinstance(value, str) and "\x00" in value:
            found.setdefault(name, set()).add("storable")
        if name in form.single_line and isinstance(value, str):
            if any(ch in LINE_BREAKS for ch in value.strip()):
                found.setdefault(name, set()).add("single line")
        if isinstance(value, float) and not math.isfinite(value):
            found.setdefault(name, set()).add("storable")
    return found


# --- valid data --------------------------------------------------------------------------------


def _normalise(form: Form, data: dict) -> dict:
    """Plain text as a person types it: no NUL, no surrounding blanks (both channels strip
    them), padded back to the field's least length."""
    out = dict(data)
    for name, value in data.items():
        if form.kind(name) == "formatted" and isinstance(value, str):
            # Both channels strip a formatted value too: "000000 " fits a pattern of seven
            # characters or more, and arrives as six. The oracle judges what arrives.
            out[name] = value.strip()
            continue
        if form.kind(name) != "text" or not isinstance(value, str):
            continue
        value = value.replace("\x00", "")
        if name in form.single_line:
            value = "".join(" " if ch in LINE_BREAKS else ch for ch in value)
        value = value.strip()
        least = max([1, *form.constraint(name, "minLength")])
        if len(value) < least:
            value += "字" * (least - len(value))
        out[name] = value
    return out


def valid_data(form: Form) -> st.SearchStrategy[dict]:
    """Data every rule of the form accepts."""
    return form.valid


def _valid(form: Form) -> st.SearchStrategy[dict]:
    return (
        from_schema(form.schema, custom_formats=CUSTOM_FORMATS)
        .map(lambda data: _normalise(form, data))
        .filter(lambda data: not oracle_errors(form, data))
    )


@st.composite
def junk_fields(draw) -> dict[str, str]:
    """Fields no form has: a page posting them must ignore them."""
    names = draw(st.lists(st.text("abcdefghij_", min_size=1, max_size=8), max_size=3))
    return {JUNK_PREFIX + n: draw(st.text(max_size=20)) for n in names}


# --- invalid data: one field broken, on purpose ------------------------------------------------

FULLWIDTH_DIGITS = "０１２３４５６７８９"


@dataclass(frozen=True)
class Broken:
    """Valid data with one field broken; `field` must carry an error in the answer."""

    data: dict
    field: str
    how: str


def _missing(draw, form: Form, data: dict, channel: str) -> Broken:
    # Only the fields this data needs: a branch's required field is free in the others.
    needed = [
        name
        for name in _requirable(form)
        if "required" in oracle_errors(form, _as_read(form, _without(data, name))).get(name, ())
    ]
    assume(needed)
    name = draw(st.sampled_from(needed))
    broken = _without(data, name)
    # Typed away in the form, or sent empty: both mean "not filled in".
    blank = draw(st.sampled_from([None, "", "   "] if channel == "api" else [None, "", " \t "]))
    if blank is not None and form.kind(name) != "boolean":
        broken[name] = blank
    return Broken(broken, name, "missing")


def _requirable(form: Form) -> list[str]:
    # A box left out is a box unticked: "unticked" covers it.
    return [n for n in form.requirable() if form.kind(n) != "boolean"]


def _without(data: dict, name: str) -> dict:
    return {k: v for k, v in data.items() if k != name}


def _as_read(form: Form, data: dict) -> dict:
    """Data as both channels read it: blanks left out, unticked boxes false."""
    read = {}
    for name, value in data.items():
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        read[name] = value
    for name in form.fields("boolean"):
        read.setdefault(name, False)
    return read


def _not_an_option(draw, form: Form, data: dict, channel: str) -> Broken:
    name = draw(st.sampled_from(form.fields("choice")))
    prop = form.properties[name]
    titles = [o["title"] for o in prop.get("oneOf", []) if o["title"] != o["const"]]
    value = draw(st.sampled_from(["not-an-option", "PASS", *titles]))
    assume(value not in [o["const"] for o in prop.get("oneOf", [])])
    return Broken({**data, name: value}, name, "not an option")


def _too_long(draw, form: Form, data: dict, channel: str) -> Broken:
    names = [n for n in form.properties if form.constraint(n, "maxLength")]
    name = draw(st.sampled_from(names))
    longest = min(form.constraint(name, "maxLength"))
    value = "字" * (longest + draw(st.integers(1, 50)))
    return Broken({**data, name: value}, name, "too long")


def _too_short(draw, form: Form, data: dict, channel: str) -> Broken:
    shorter = {n: "字" * (max(form.constraint(n, "minLength")) - 1) for n in _short_able(form)}
    # The least length may be a branch's (the reasons of a rejection): only where it holds.
    names = [n for n, v in shorter.items() if n in oracle_errors(form, {**data, n: v})]
    assume(names)
    name = draw(st.sampled_from(names))
    return Broken({**data, name: shorter[name]}, name, "too short")


BAD_FORMATTED = {
    "cn-uscc": ["91110000600037341A", "9111000060003734", "ABCDEFGH600037341L"],
    "cn-ric": ["110101198001011231", "110101198002301236", "11010119800101123"],
    "email": ["no-at-sign.example.com", "two@@example.com", "a b@example.com", "a@b"],
    "date": ["2026-02-30", "20260601", "2026-W23-1", "2026/06/01", "01.06.2026", "2026-6-1"],
    "pattern": ["abcdefg", "12345", "1" * 21, FULLWIDTH_DIGITS[:8]],
}


def _bad_format(draw, form: Form, data: dict, channel: str) -> Broken:
    name = draw(st.sampled_from(form.fields("formatted")))
    prop = form.properties[name]
    value = draw(st.sampled_from(BAD_FORMATTED[prop.get("format", "pattern")]))
    return Broken({**data, name: value}, name, f"bad {prop.get('format', 'pattern')}")


def _nul(draw, form: Form, data: dict, channel: str) -> Broken:
    name = draw(st.sampled_from(form.fields("text")))
    least = max([2, *form.constraint(name, "minLength")])
    value = "字" * least + "\x00" + draw(st.text("abc", max_size=3))
    return Broken({**data, name: value}, name, "NUL character")


def _line_break(draw, form: Form, data: dict, channel: str) -> Broken:
    # A name with CR/LF or U+2028 once ended a mail subject early and put the rest, such as
    # "Bcc: victim@example.com", at the head of the secretary's mail.
    name = draw(st.sampled_from(_single_line_texts(form)))
    least = max([2, *form.constraint(name, "minLength")])
    brk = draw(st.sampled_from(["\r\n", *LINE_BREAKS]))
    tail = draw(st.sampled_from(["Bcc: victim@example.com", "X-Injected: 1", "字"]))
    longest = min(form.constraint(name, "maxLength") or [10_000])
    value = ("字" * least + brk + tail)[: max(longest, least + len(brk) + 1)]
    return Broken({**data, name: value}, name, f"line break {brk!r}")


def _single_line_texts(form: Form) -> list[str]:
    return [n for n in form.fields("text") if n in form.single_line]


def _bad_number(draw, form: Form, data: dict, channel: str) -> Broken:
    name = draw(st.sampled_from(form.fields("number")))
    if channel == "api":
        value = draw(st.sampled_from([0, -1, -0.5, "5000", math.inf, -math.inf, math.nan]))
    else:
        value = draw(st.sampled_from(["0", "-1", "abc", "inf", "nan", "1e999", "Infinity", "0x10"]))
    return Broken({**data, name: value}, name, f"number {value!r}")


def _unticked(draw, form: Form, data: dict, channel: str) -> Broken:
    name = draw(st.sampled_from(form.fields("boolean")))
    broken = dict(data)
    if channel == "api":
        broken[name] = draw(st.sampled_from([False, "true", 1, "on"]))
    else:
        value = draw(st.sampled_from([None, "off", "false", "0", "no"]))
        if value is None:
            broken.pop(name, None)
        else:
            broken[name] = value
    return Broken(broken, name, "unticked")


def _wrong_type(draw, form: Form, data: dict, channel: str) -> Broken:
    names = form.fields("text", "formatted", "choice", "document")
    name = draw(st.sampled_from(names))
    value = draw(st.sampled_from([12345, 1.5, True, ["字字字"], {"a": "字字字"}]))
    return Broken({**data, name: value}, name, f"type {type(value).__name__}")


def _unknown_field(draw, form: Form, data: dict, channel: str) -> Broken:
    name = JUNK_PREFIX + draw(st.text("abcdefghij", min_size=1, max_size=8))
    return Broken({**data, name: draw(st.sampled_from(["x", 1, None, [1]]))}, name, "unknown")


def _foreign_document(draw, form: Form, data: dict, channel: str) -> Broken:
    # A page ignores a token that is not the application's (as if none were sent): there only
    # a required field shows the refusal.
    name = draw(st.sampled_from(_foreign_able(form, channel)))
    value = draw(st.sampled_from([FOREIGN_DOCUMENT, "not-a-token"]))
    return Broken({**data, name: value}, name, "not this application's document")


def _short_able(form: Form) -> list[str]:
    return [n for n in form.fields("text") if max(form.constraint(n, "minLength") or [0]) >= 2]


def _foreign_able(form: Form, channel: str) -> list[str]:
    names = form.fields("document")
    if channel == "html":
        return [n for n in names if n in form.schema.get("required", [])]
    return names


# Each mutation, and whether it applies to a form through a channel ("html" or "api"). A page
# posts text only: a wrong JSON type cannot be sent, and fields it does not know are ignored
# (see junk_fields) rather than refused.
MUTATIONS = {
    "missing": (_missing, lambda f, c: _requirable(f)),
    "not an option": (_not_an_option, lambda f, c: f.fields("choice")),
    "too long": (_too_long, lambda f, c: [n for n in f.properties if f.constraint(n, "maxLength")]),
    "too short": (_too_short, lambda f, c: _short_able(f)),
    "bad format": (_bad_format, lambda f, c: f.fields("formatted")),
    "NUL": (_nul, lambda f, c: f.fields("text")),
    "line break": (_line_break, lambda f, c: _single_line_texts(f)),
    "bad number": (_bad_number, lambda f, c: f.fields("number")),
    "unticked": (_unticked, lambda f, c: f.fields("boolean")),
    "wrong type": (_wrong_type, lambda f, c: c == "api"),
    "unknown field": (_unknown_field, lambda f, c: c == "api"),
    "foreign document": (_foreign_document, _foreign_able),
}


def mutations_for(form: Form, channel: str) -> list[str]:
    """The mutations that apply to a form through a channel."""
    return [name for name, (_fn, applies) in MUTATIONS.items() if applies(form, channel)]


def invalid_data(form: Form, channel: str, how: str) -> st.SearchStrategy[Broken]:
    """Valid data with one field broken by the named mutation."""

    @st.composite
    def strategy(draw) -> Broken:
        return MUTATIONS[how][0](draw, form, draw(valid_data(form)), channel)

    return strategy()


# --- display names -----------------------------------------------------------------------------

# Characters that change how a name reads without being seen: bidi overrides and isolates
# (U+202E writes "moc.elpmaxe" for "example.com"), zero-width ones, controls, line separators.
INVISIBLE = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200e\u200f\ufeff"
INVISIBLE += "\x00\x07\x1b\x7f" + LINE_BREAKS


def display_names() -> st.SearchStrategy[str]:
    """Names as typed, hostile characters mixed in among Chinese and Latin letters."""
    letters = st.sampled_from("示例科技有限公司ABCxyz ·-（）")
    return st.lists(
        st.one_of(letters, st.sampled_from(INVISIBLE), st.characters()), max_size=40
    ).map("".join)


def without_invisible(name: str) -> str:
    """What a reader sees of a name, blanks aside: the oracle for a stored display name."""
    return "".join(
        ch for ch in name if ch not in INVISIBLE and not ch.isspace() and ch.isprintable()
    )
