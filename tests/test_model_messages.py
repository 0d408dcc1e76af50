"""A model's messages are templates in its folder (messages/<name>.<language>.txt) that the
diagram names with `notify`: deployed, exported and edited with the forms, checked at
validation (each named message in every language, each template readable), and rendered in
a sandbox, since process owners write them."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from tests.conftest import ROOT, VALID_APPLICATION, open_task
from tests.test_model_editor import BPMN, bundle, post_json
from tests.test_notify import ADMISSION, _reader, stored_version
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import notify, process_models

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ url|attr('__class__') }}",
    "{{ recipient_name['__class__'] }}",
    "{{ when.__globals__ }}",
]


def problems(app, bpmn: str = BPMN, **changes) -> list[str]:
    forms = {**ADMISSION, **changes}
    with app.app_context():
        return [f"{p.element_id}: {p.message}" for p in process_models.validate(bpmn, forms)]


def without(*names: str) -> dict:
    return {k: v for k, v in ADMISSION.items() if k not in names}


def test_the_admission_model_ships_its_messages_in_both_languages(app):
    names = {n for n in ADMISSION if n.startswith("messages/")}
    assert "messages/application_received.zh.txt" in names
    assert all(n.replace(".zh.", ".en.") in names for n in names if n.endswith(".zh.txt"))
    assert problems(app) == []


def test_a_notify_without_its_message_in_a_language_is_named_with_the_file(app):
    forms = without("messages/application_lapsed.en.txt")
    with app.app_context():
        found = process_models.validate(BPMN, forms)
    assert [(p.element_id, p.params.get("file")) for p in found] == [
        ("end_lapsed", "messages/application_lapsed.en.txt")
    ]
    assert "messages/application_lapsed.en.txt does not exist" in found[0].message


def test_a_notify_naming_no_message_at_all_is_refused(app):
    bpmn = BPMN.replace('value="payment_reminder"', 'value="no_such_message"')
    found = problems(app, bpmn)
    assert found == [
        f"remind_payment: The message messages/no_such_message.{lang}.txt does not exist: add "
        "it in the Messages tab (one file per language), or correct the property notify."
        for lang in ("zh", "en")
    ]
    # A path is no message name: it never reaches the platform's files.
    sneaky = bpmn.replace('value="no_such_message"', 'value="../mail/task_waiting"')
    assert any("cannot be a message" in p for p in problems(app, sneaky))


def test_a_template_that_does_not_compile_is_refused_with_file_and_line(app):
    broken = "主题\n\n尊敬的{{ recipient_name }}：\n{% if fee_amount %}缴费\n"
    found = problems(app, **{"messages/application_approved.zh.txt": broken})
    assert len(found) == 1
    assert found[0].startswith(": The message messages/application_approved.zh.txt cannot be")
    assert "line 4" in found[0] and "endif" in found[0]


def test_an_include_of_a_missing_message_is_refused(app):
    forms = without("messages/signature.en.txt")
    with app.app_context():
        found = [p.message for p in process_models.validate(BPMN, forms)]
    assert found and all("includes signature" in m for m in found)
    assert all("messages/signature.en.txt" in m for m in found)


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_template_reaching_for_private_attributes_is_refused_at_validation(app, escape):
    found = problems(app, **{"messages/application_received.en.txt": f"Subject\n\n{escape}\n"})
    assert found and all("may not read" in p or "cannot be read" in p for p in found), found


@pytest.mark.parametrize(
    "escape",
    [
        *ESCAPES,
        "{{ 'x' * 100000000 }}",
        "{% set n = 100000000 %}{{ 'x' * n }}",
        "{{ 10 ** 100000 }}",
        "{{ lipsum }}{{ cycler.__init__ }}",
        "{{ range(10**9)|list }}",
    ],
)
def test_a_stored_template_escaping_the_sandbox_writes_nothing(app, escape):
    # A template that got in by any other path still runs in the sandbox: the step goes on,
    # and nothing of Python's insides is ever written.
    files = {**ADMISSION, "messages/application_received.en.txt": f"Subject\n\n{escape}\n"}
    with app.app_context():
        written = notify.notify(
            "application_received", _reader("applicant", "en"), path="/x",
            version_id=stored_version(files),
        )  # fmt: skip
        rows = db.session.scalars(select(OutboxMessage)).all()
        failed = notify.render_pending(written)
    for message in written:
        assert "class" not in message.body and "subclasses" not in message.body
        assert len(message.body) < 10_000
    assert len(rows) == len(written) == 1
    # Refused when rendered (not all are: some just print nothing): marked and never mailed.
    for message in failed:
        assert message.last_error.startswith("MessageFailed") and message.next_attempt_at is None


def test_messages_render_without_escaping_and_with_the_helpers(app):
    files = {
        **ADMISSION,
        "messages/note.en.txt": "Note <{{ application_name }}>\n\n{{ when(notice_closes_at) }}"
        " {{ money(fee_amount, 'CNY') }} & {{ url }}\n",
    }
    with app.app_context():
        [m] = notify.notify(
            "note", _reader("applicant", "en"), version_id=stored_version(files),
            application_name="A & B <c>",
            notice_closes_at=notify._parsed("2026-03-05T06:00:00+00:00"), fee_amount=2000,
            path="/cases/7",
        )  # fmt: skip
        notify.rendered(m)
    assert m.subject == "Note <A & B <c>>"
    assert "March 5, 2026" in m.body and "CN¥2,000.00" in m.body and "&amp;" not in m.body
    assert "http://127.0.0.1:5000/cases/7" in m.body


def test_a_model_may_replace_a_platform_message(app):
    files = {**ADMISSION, "messages/task_waiting.en.txt": "Over to you: {{ task_title }}\n\nGo.\n"}
    with app.app_context():
        version_id = stored_version(files)
        [own] = notify.notify(
            "task_waiting", _reader("council", "en"), version_id=version_id, task_title="初审"
        )
        [platform] = notify.notify(
            "task_waiting", _reader("council", "zh_CN"), version_id=version_id, task_title="初审"
        )
        notify.render_pending([own, platform])
    assert own.subject == "Over to you: 初审" and own.body == "Go.\n"
    assert "初审" in platform.subject and "Over to you" not in platform.subject


def test_a_message_named_by_nobody_is_an_error_not_a_guess(app):
    with app.app_context(), pytest.raises(ValueError, match="no message template"):
        notify.notify("nothing_like_it", _reader("applicant", "en"), version_id=stored_version())


def test_messages_are_deployed_exported_and_refused_by_name_through_the_editor(app, actors):
    owner = actors("owner")
    changed = bundle(**{"messages/application_received.en.txt": "Got it\n\nThanks.\n"})
    deployed = post_json(owner, "/models/admission/deploy", changed)
    assert deployed.status_code == 200, deployed.get_json()
    number = deployed.get_json()["version"]
    archive = zipfile.ZipFile(
        io.BytesIO(owner.get(f"/models/admission/versions/{number}/export.zip").data)
    )
    name = "forms/admission/messages/application_received.en.txt"
    assert archive.read(name).decode("utf-8") == "Got it\n\nThanks.\n"
    editor = owner.get("/models/admission/edit").get_data(as_text=True)
    assert "messages/application_received.en.txt" in editor and 'id="tab-messages"' in editor

    for bad, content in [("messages/../x.en.txt", "x"), ("messages/x.txt", "x"),
                         ("messages/ok.en.txt", {"not": "text"})]:  # fmt: skip
        refused = post_json(owner, "/models/admission/deploy", bundle(**{bad: content}))
        assert refused.status_code == 400, bad
        assert "message" in refused.get_json()["error"], refused.get_json()

    # An application on that version gets the new wording when it is submitted.
    with app.app_context():
        _reader("applicant", "en")
        db.session.commit()
    applicant = actors("applicant")
    case = applicant.start_application()
    done = applicant.complete(open_task(app, case.id).task_guid, VALID_APPLICATION)
    assert done.status_code == 302
    page = applicant.get("/messages").get_data(as_text=True)
    assert "Got it" in page and "Thanks." in page
    with app.app_context():
        [receipt] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.event == "application_received")
        ).all()
    assert (receipt.subject, receipt.body) == ("Got it", "Thanks.\n")  # as the list wrote it


def test_the_shell_validates_messages_from_the_forms_folder(app, tmp_path):
    forms = tmp_path / "admission"
    (forms / "messages").mkdir(parents=True)
    for name, content in ADMISSION.items():
        if isinstance(content, str) and name != "messages/payment_reminder.zh.txt":
            (forms / name).write_text(content, "utf-8")
        elif not isinstance(content, str):
            (forms / name).write_text(__import__("json").dumps(content), "utf-8")
    bpmn = ROOT / "workflows" / "admission.bpmn"
    result = app.test_cli_runner().invoke(
        args=["models", "validate", str(bpmn), "--forms", str(forms)]
    )
    assert result.exit_code == 1
    assert "remind_payment 发送缴费提醒: The message messages/payment_reminder.zh.txt" in (
        result.output
    )


def test_the_message_for_an_objection_is_named_by_the_notice_and_checked_too(app):
    with app.app_context():
        found = process_models.validate(BPMN, without("messages/objection_filed.zh.txt"))
    assert [(p.element_id, p.params.get("file")) for p in found] == [
        ("notice_period", "messages/objection_filed.zh.txt")
    ]
