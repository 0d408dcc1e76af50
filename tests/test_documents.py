"""Uploaded documents: accepted by what they contain, not by their names; kept outside the web
root under generated names; shown and served only to the applicant and the committee."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
from flask import render_template_string, request
from flask_babel import force_locale
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict

from tests.conftest import ROOT, VALID_APPLICATION, Actor, open_task, reload
from webapp import formschema
from webapp.extensions import db
from webapp.models import Case, Document, User
from webapp.services import documents
from webapp.services.errors import InvalidFormData

PDF = VALID_APPLICATION["application_form_scan"][0]
SCHEMA = {
    "type": "object",
    "properties": {
        "scan": {"type": "string", "format": "document", "title": "Scan"},
        "licence": {"type": "string", "format": "document", "title": "Licence"},
        "note": {"type": "string"},
    },
    "required": ["scan"],
}


def _image(kind: str, size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buffer, kind)
    return buffer.getvalue()


def _files(**uploads: tuple[bytes, str]) -> MultiDict:
    return MultiDict(
        {
            name: FileStorage(io.BytesIO(content), filename)
            for name, (content, filename) in uploads.items()
        }
    )


@pytest.fixture(autouse=True)
def upload_dir(app, tmp_path) -> Path:
    """Each test keeps its files in its own folder."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def case(app, actors):
    """A started application of the demo applicant: (application id, applicant id)."""
    case = actors("applicant").start_application()
    return case.id, case.applicant_id


def _accept(app, case, files, data=None):
    """Run accept_uploads as the applicant (in English) and commit; the data with tokens."""
    with app.test_request_context(), force_locale("en"):
        case_id, applicant_id = case
        user = db.session.get(User, applicant_id)
        row = db.session.get(Case, case_id)
        try:
            data = documents.accept_uploads(user, row, SCHEMA, files, data or {})
        except InvalidFormData:
            db.session.rollback()  # as a caller that does not keep the files that passed
            raise
        db.session.commit()
        return data


def _document(app, token) -> Document:
    with app.app_context():
        return db.session.scalars(select(Document).where(Document.token == token)).one()


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Document))


def test_pdf_is_stored_outside_the_web_root_under_a_generated_name(app, case, upload_dir):
    data = _accept(app, case, _files(scan=(PDF, "../../申请表.pdf")), {"note": "x"})
    assert data["note"] == "x"
    document = _document(app, data["scan"])
    assert document.case_id == case[0] and document.owner_id == case[1]
    assert document.field == "scan" and document.content_type == "application/pdf"
    assert document.original_name == "申请表.pdf"  # folders the browser sent are dropped
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", document.stored_name)
    assert document.size == len(PDF) and document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (upload_dir / document.stored_name).read_bytes() == PDF
    assert not upload_dir.is_relative_to(Path(app.static_folder))


def test_png_named_pdf_is_accepted_as_png_and_offered_as_png(app, case, actors):
    png = _image("PNG")
    data = _accept(app, case, _files(scan=(png, "scan.pdf"), licence=(_image("JPEG"), "l.png")))
    scan, licence = _document(app, data["scan"]), _document(app, data["licence"])
    assert scan.content_type == "image/png" and scan.stored_name.endswith(".png")
    assert licence.content_type == "image/jpeg" and licence.stored_name.endswith(".jpg")
    response = actors("applicant").get(f"/documents/{scan.token}")
    assert response.status_code == 200 and response.data == png
    assert response.mimetype == "image/png"
    assert "filename=scan.png" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "content",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100,  # Windows program
        b"<!doctype html><script>alert(document.cookie)</script>",
        b"%PDF-1.4\n1 0 obj <<>> endobj\n",  # cut off before the end
        _image("PNG")[:60],  # broken image behind a true signature
        _image("JPEG", (400, 300))[:20000],  # the picture's data stops half-way
        b"\x89PNG\r\n\x1a\n" + b"not really an image",
        b"",
    ],
    ids=["exe", "html", "truncated-pdf", "truncated-png", "truncated-jpeg", "fake-png", "empty"],
)
def test_file_that_is_not_a_sound_pdf_jpeg_or_png_is_refused(app, case, upload_dir, content):
    with pytest.raises(InvalidFormData) as refused:
        _accept(app, case, _files(scan=(content, "application.pdf")))
    assert refused.value.errors == {"scan": ["Only PDF, JPEG or PNG files are accepted."]}
    assert _count(app) == 0
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_too_large_file_is_refused_and_nothing_else_is_stored(app, case, upload_dir):
    app.config["MAX_DOCUMENT_BYTES"] = 2 * 1024 * 1024
    big = PDF + b"0" * (2 * 1024 * 1024) + b"\n%%EOF\n"
    with pytest.raises(InvalidFormData) as refused:
        _accept(app, case, _files(scan=(PDF, "ok.pdf"), licence=(big, "big.pdf")))
    assert refused.value.errors == {"licence": ["The file is larger than 2 MB."]}
    # The good file's token comes back for the form to keep, but it is stored only if the
    # caller commits (a task's submission does; here the caller rolls back).
    assert "scan" in refused.value.values
    assert _count(app) == 0
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_the_current_file_is_kept_unless_it_belongs_to_another_application(app, actors, case):
    first = _accept(app, case, _files(scan=(PDF, "a.pdf")))["scan"]
    form = MultiDict({"scan__current": first, "licence": "forged-text-value"})
    data = formschema.read_submission(SCHEMA, form)
    assert data == {"scan": first}  # a document never comes from a text field
    assert _accept(app, case, MultiDict(), data) == {"scan": first}
    # Uploading a new file replaces the current one.
    second = _accept(app, case, _files(scan=(PDF, "b.pdf")), data)["scan"]
    assert second != first and _document(app, second).original_name == "b.pdf"

    other = actors("applicant2").start_application()
    with app.test_request_context():
        foreign = db.session.get(Case, other.id)
        user = db.session.get(User, other.applicant_id)
        assert documents.accept_uploads(user, foreign, SCHEMA, MultiDict(), {"scan": first}) == {}


def test_token_of_another_application_is_refused_by_check_tokens(app, actors, case):
    token = _accept(app, case, _files(scan=(PDF, "a.pdf")))["scan"]
    other = actors("applicant2").start_application()
    with app.test_request_context(), force_locale("en"):
        mine = db.session.get(Case, case[0])
        theirs = db.session.get(Case, other.id)
        assert documents.check_tokens(mine, SCHEMA, {"scan": token}) == {}
        assert documents.check_tokens(theirs, SCHEMA, {"scan": token, "licence": "made-up"}) == {
            "scan": ["This document does not belong to this case."],
            "licence": ["This document does not belong to this case."],
        }
        assert documents.describe([token, "made-up"]).keys() == {token}


def test_file_is_removed_when_the_transaction_rolls_back(app, case, upload_dir):
    with app.test_request_context():
        user = db.session.get(User, case[1])
        row = db.session.get(Case, case[0])
        documents.accept_uploads(user, row, SCHEMA, _files(scan=(PDF, "a.pdf")), {})
        assert len(list(upload_dir.iterdir())) == 1
        db.session.rollback()
    assert list(upload_dir.iterdir()) == []
    assert _count(app) == 0


def test_only_the_applicant_and_the_committee_may_download(app, actors, case):
    token = _accept(app, case, _files(scan=(PDF, "申请表.pdf")))["scan"]
    url = f"/documents/{token}"
    for username in ("applicant", "council", "secretary", "finance"):
        response = actors(username).get(url)
        assert response.status_code == 200, username
        assert response.data == PDF and response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert (
            "filename*=UTF-8''%E7%94%B3%E8%AF%B7%E8%A1%A8.pdf"
            in (response.headers["Content-Disposition"])
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "private, no-store"
    # Another applicant cannot tell an existing document from a made-up one.
    assert actors("applicant2").get(url).status_code == 404
    assert actors("applicant2").get("/documents/made-up").status_code == 404
    assert actors("owner").get(url).status_code == 404
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_missing_file_is_not_found_rather_than_an_error(app, actors, case, upload_dir):
    token = _accept(app, case, _files(scan=(PDF, "a.pdf")))["scan"]
    (upload_dir / _document(app, token).stored_name).unlink()
    assert actors("applicant").get(f"/documents/{token}").status_code == 404


def test_form_shows_a_file_input_and_the_file_submitted_so_far(app, case):
    token = _accept(app, case, _files(scan=(PDF, "申请表.pdf")))["scan"]
    ui = {"licence": {"ui:widget": "file", "ui:options": {"accept": ".pdf"}}}
    with app.test_request_context():
        form = formschema.build_form(SCHEMA, ui, "en", values={"scan": token})
        scan, licence = form.fields[0], form.fields[1]
        assert scan.is_file and scan.value == token and scan.accept == ".pdf,.jpg,.jpeg,.png"
        assert licence.is_file and licence.accept == ".pdf" and not form.fields[2].is_file
        page = render_template_string(
            "{% from '_macros.html' import form_field, summary_table %}"
            "{% for f in form.fields %}{{ form_field(f) }}{% endfor %}|{{ summary_table(form) }}",
            form=form,
        )
    fields, summary = page.split("|")
    assert 'type="file" id="f-scan" name="scan" accept=".pdf,.jpg,.jpeg,.png"' in fields
    assert 'type="file" id="f-licence" name="licence" accept=".pdf"' in fields
    assert f'<input type="hidden" name="scan__current" value="{token}">' in fields
    assert f'href="/documents/{token}">申请表.pdf</a>' in fields
    assert "licence__current" not in fields
    assert f'href="/documents/{token}">申请表.pdf</a>' in summary
    assert f">{token}<" not in summary  # the file's name is shown, never its token


def test_the_application_form_asks_for_the_documents_of_each_member_type(app):
    schema = json.loads((ROOT / "forms/admission/application.schema.json").read_text("utf-8"))
    with app.test_request_context():
        _check_application_schema(schema)


def _check_application_schema(schema: dict) -> None:
    assert documents.document_fields(schema) == [
        "application_form_scan",
        "business_licence",
        "id_document",
        "cv",
    ]
    unit = {"member_type": "unit"}
    person = {"member_type": "individual"}
    missing = formschema.validate
    with_docs = {"application_form_scan": "t1", "business_licence": "t2"}
    assert {"application_form_scan", "business_licence"} <= missing(schema, unit).keys()
    assert not {"id_document", "cv"} & missing(schema, unit).keys()
    assert (
        not {"application_form_scan", "business_licence"}
        & missing(schema, {**unit, **with_docs}).keys()
    )
    assert {"application_form_scan", "id_document", "cv"} <= missing(schema, person).keys()
    assert "business_licence" not in missing(schema, person)
    assert "recommender" in schema["properties"]
    assert "application_form_scan" in missing(schema, {**unit, "application_form_scan": " "})


def test_application_task_page_offers_file_inputs(app, actors, case):
    task = open_task(app, case[0])
    page = actors("applicant").get(f"/tasks/{task.task_guid}").get_data(as_text=True)
    for name in ("application_form_scan", "business_licence", "id_document", "cv"):
        assert f'type="file" id="f-{name}" name="{name}"' in page


def test_test_actors_upload_byte_pairs_as_files(app):
    def echo():
        return {name: [f.filename, len(f.read())] for name, f in request.files.items()}

    app.add_url_rule("/echo-files", "echo_files", echo, methods=["POST"])
    response = Actor(app, "applicant").post("/echo-files", VALID_APPLICATION)
    assert response.json == {
        "application_form_scan": ["申请表.pdf", len(PDF)],
        "business_licence": ["营业执照.pdf", len(PDF)],
    }


def test_submitted_application_keeps_its_documents_for_the_secretariat(app, actors, submitted):
    data = reload(app, submitted.id).data
    with app.app_context():
        stored = documents.describe([data["application_form_scan"], data["business_licence"]])
    assert sorted(d.original_name for d in stored.values()) == ["申请表.pdf", "营业执照.pdf"]
    page = actors("secretary").get(f"/tasks/{open_task(app, submitted.id).task_guid}")
    for token, document in stored.items():
        assert f'href="/documents/{token}">{document.original_name}</a>' in page.get_data(
            as_text=True
        )
