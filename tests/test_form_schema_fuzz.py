"""The forms of every procedure but admission, fuzzed at the schema level: data made from each
form's JSON Schema goes through the server's own reading and validation of both doors — the
page's (formschema.read_submission of the posted fields, the document fields' tokens kept or
dropped by documents.accept_uploads, formschema.validate, documents.check_tokens) and the API's
(json_data.read of the JSON body, formschema.validate, documents.check_tokens) — without a task
behind it. Valid data is accepted; data with one field broken is refused with an error at that
field; nothing raises. Admission's forms are fuzzed through real tasks in test_form_fuzz.py."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import assume, given
from werkzeug.datastructures import MultiDict

from tests.fuzz_strategies import (
    DOCUMENTS,
    FORMS_ROOT,
    Broken,
    Form,
    form,
    invalid_data,
    junk_fields,
    mutations_for,
    valid_data,
)
from tests.test_form_fuzz import fuzz_settings
from webapp import formschema
from webapp.services import documents, json_data
from webapp.services.errors import InvalidFormData

# Every (procedure folder, form) fuzzed here, written out: a form a new diagram names is not
# fuzzed until it is added, and test_every_form_a_user_task_names_is_fuzzed says so.
SCHEMA_FUZZED = (
    ("annual_dues", "confirm_dues.schema.json"),
    ("annual_dues", "decide_arrears.schema.json"),
    ("annual_dues", "declare_dues.schema.json"),
    ("appeal", "decide.schema.json"),
    ("appeal", "lodge.schema.json"),
    ("certificate_reissue", "report_loss.schema.json"),
    ("certificate_reissue", "review_reissue.schema.json"),
    ("change_of_details", "review_changes.schema.json"),
    ("change_of_details", "submit_changes.schema.json"),
    ("discipline", "council_vote.schema.json"),
    ("discipline", "decide.schema.json"),
    ("discipline", "defence.schema.json"),
    ("discipline", "open_case.schema.json"),
    ("member_type_change", "council_vote.schema.json"),
    ("member_type_change", "propose_type.schema.json"),
    ("member_type_change", "review_type.schema.json"),
    ("withdrawal", "confirm.schema.json"),
    ("withdrawal", "request.schema.json"),
    ("withdrawal", "settle_arrears.schema.json"),
)
VALID_EXAMPLES = 10
EXAMPLES_PER_MUTATION = 5
CASE = None  # no case behind the form: the case's documents are DOCUMENTS (see own_documents)


@pytest.fixture
def own_documents(monkeypatch):
    """The documents of the case the form belongs to are the placeholder tokens DOCUMENTS;
    any other token (FOREIGN_DOCUMENT, junk) is another case's or none."""
    monkeypatch.setattr(
        documents, "_of_case", lambda case, tokens: {t for t in tokens if t in DOCUMENTS}
    )


def posted(the_form: Form, data: dict) -> MultiDict:
    """The fields a page posts for this data (as test_form_fuzz.Doors.submit sends them)."""
    fields = MultiDict()
    for name, value in data.items():
        if value is None or value is False:
            continue  # a box left unticked, a field never filled: nothing is sent
        if the_form.properties.get(name, {}).get("format") == "document":
            name += formschema.CURRENT_SUFFIX  # the token of the file submitted so far
        fields.add(name, "on" if value is True else str(value))
    return fields


def through(door: str, the_form: Form, data: dict) -> tuple[dict, dict[str, list[str]]]:
    """What the server reads from the data sent through a door, and the errors it finds: the
    steps of tasks.complete (the page) and tasks.complete_with (the API) before the engine."""
    schema, ui = the_form.schema, the_form.ui
    if door == "html":
        read = formschema.read_submission(schema, posted(the_form, data))
        refused: dict[str, list[str]] = {}
        try:
            read = documents.accept_uploads(None, CASE, schema, {}, read)
        except InvalidFormData as err:
            read, refused = err.values, err.errors
        errors = formschema.validate(schema, read, ui)
        for name, messages in documents.check_tokens(CASE, schema, read).items():
            errors.setdefault(name, []).extend(messages)
        errors.update(refused)
        return read, errors
    # The body as the API receives it: written by Python's json (NaN, Infinity), parsed back.
    payload = json.loads(json.dumps(data))
    read, errors = json_data.read(schema, payload)
    if not errors:
        errors = formschema.validate(schema, read, ui)
        for name, messages in documents.check_tokens(CASE, schema, read).items():
            errors.setdefault(name, []).extend(messages)
    return read, errors


def _describe(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)[:600]


def test_the_list_names_forms_of_other_procedures_than_admission():
    for folder, name in SCHEMA_FUZZED:
        assert folder != "admission", "admission's forms are fuzzed through real tasks"
        assert (FORMS_ROOT / folder / name).is_file(), (folder, name)
    assert len(set(SCHEMA_FUZZED)) == len(SCHEMA_FUZZED)


@pytest.mark.parametrize("door", ["html", "api"])
@pytest.mark.parametrize(("folder", "form_name"), SCHEMA_FUZZED)
def test_form_schema_accepts_valid_and_refuses_broken_data(
    app, own_documents, folder, form_name, door, capsys
):
    the_form = form(form_name, folder)
    label = f"{folder}/{form_name} via {door}"
    seen: Counter = Counter()
    with app.test_request_context():

        @fuzz_settings(VALID_EXAMPLES)
        @given(data=valid_data(the_form), junk=junk_fields())
        def valid_is_accepted(data, junk):
            sent = {**data, **junk} if door == "html" else data
            read, errors = through(door, the_form, sent)
            assert not errors, f"{label}: valid data refused: {errors} for {_describe(sent)}"
            assert set(read) <= set(the_form.properties), (label, read)
            assert formschema.storable(read), (label, read)
            seen["valid"] += 1

        def broken_is_refused(how: str):
            @fuzz_settings(EXAMPLES_PER_MUTATION)
            @given(broken=invalid_data(the_form, door, how))
            def run(broken: Broken):
                # A field the data's own choices hide is dropped, not judged.
                whens = formschema.conditions(the_form.schema).get(broken.field, [])
                assume(formschema.applies(whens, broken.data))
                _read, errors = through(door, the_form, broken.data)
                assert broken.field in errors, (
                    f"{label}, {broken.how} at {broken.field}: errors {errors} "
                    f"for {_describe(broken.data)}"
                )
                seen[how] += 1

            run()

        valid_is_accepted()
        for how in mutations_for(the_form, door):
            broken_is_refused(how)
    with capsys.disabled():
        kinds = ", ".join(f"{how} {n}" for how, n in sorted(seen.items()) if how != "valid")
        print(f"\nschema fuzz {label}: {seen['valid']} valid accepted; refused: {kinds}")
