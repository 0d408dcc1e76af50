"""Hostile files through the real ways in (the application form and the API's upload): content
that is not what it claims, oversize files, names with folders and control characters, and
polyglots that a browser could take for a web page are refused or neutralised; whatever is
kept is handed out only as an attachment that the browser may neither sniff nor run."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import VALID_APPLICATION, open_task
from webapp.extensions import db
from webapp.models import Document
from webapp.services import api_tokens, users

PDF = VALID_APPLICATION["application_form_scan"][0]
SCRIPT = b"<script>alert(document.cookie)</script>"


def _pdf(body: bytes = b"") -> bytes:
    return b"%PDF-1.4\n" + body + b"\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _jpeg_with_comment(comment: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((40, 30), 64).convert("RGB").save(buffer, "JPEG", comment=comment)
    return buffer.getvalue()


def _documents(app) -> list[Document]:
    with app.app_context():
        return list(db.session.scalars(select(Document).order_by(Document.id)))


def _count(app) -> int:
    """Scans stored: the refused file is never among them (the valid business licence sent
    alongside it is kept, so the form shown again offers it)."""
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.field == "application_form_scan")
        )


def _submit(app, actors, scan: tuple[bytes, str]):
    """The applicant sends the application form with this file as the signed form's scan."""
    applicant = actors("applicant")
    case = applicant.start_application()
    guid = open_task(app, case.id).task_guid
    response = applicant.complete(guid, {**VALID_APPLICATION, "application_form_scan": scan})
    return case.id, response


def _field_error(response, field: str) -> bool:
    page = response.get_data(as_text=True)
    block = re.search(rf'data-field="{field}".*?</div>\s*</div>', page, re.DOTALL)
    return block is not None and "invalid-feedback" in block.group(0)


BOUNDARY = "hostile-boundary-7f3a"


def _multipart(field: str, content: bytes, name: str) -> bytes:
    """A body written by hand, as a hostile client would: the file name goes out exactly as
    given (percent-encoded per RFC 5987, so control characters and backslashes arrive intact;
    a test client would quietly drop or unescape them)."""
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="field"\r\n\r\n{field}\r\n'
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{quote(name, safe='')}\r\n"
        "Content-Type: text/html\r\n\r\n"
    )
    return head.encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def api(app, actors):
    """The applicant's API token and an application whose form waits for its files."""
    case = actors("applicant").start_application()
    with app.app_context():
        _token, plain = api_tokens.create(users.by_username("applicant"), "uploads")
    client = app.test_client()

    def upload(content: bytes, name: str, field: str = "application_form_scan"):
        return client.post(
            f"/api/v1/cases/{case.id}/documents",
            data=_multipart(field, content, name),
            headers={"Authorization": f"Bearer {plain}"},
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
        )

    return upload


HOSTILE_CONTENT = {
    "html-named-pdf": b"<!doctype html><html><body>" + SCRIPT + b"</body></html>",
    "svg-named-png": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "exe-named-pdf": b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200,
    "pdf-without-end": b"%PDF-1.4\n" + SCRIPT,
}
POLYGLOTS = {
    "pdf-with-html-page": _pdf(b"<html><body>" + SCRIPT + b"</body></html>"),
    "pdf-with-script-only": _pdf(b"%" + SCRIPT),
    "pdf-with-svg": _pdf(b'<svg onload="alert(1)">'),
    "pdf-with-img-handler": _pdf(b"<IMG SRC=x onerror=alert(1)>"),
    "jpeg-with-html-comment": _jpeg_with_comment(b"<html>" + SCRIPT),
}


@pytest.mark.parametrize("content", HOSTILE_CONTENT.values(), ids=HOSTILE_CONTENT.keys())
def test_content_that_is_not_an_allowed_type_is_refused_at_the_form(app, actors, content):
    case_id, response = _submit(app, actors, (content, "scan.pdf"))
    assert response.status_code == 400
    assert _field_error(response, "application_form_scan")
    assert _count(app) == 0
    assert open_task(app, case_id).bpmn_id == "submit_application"  # nothing moved


@pytest.mark.parametrize("content", POLYGLOTS.values(), ids=POLYGLOTS.keys())
def test_polyglot_that_a_browser_could_take_for_a_page_is_refused(app, actors, api, content):
    _case_id, response = _submit(app, actors, (content, "scan.pdf"))
    assert response.status_code == 400
    assert _field_error(response, "application_form_scan")
    refused = api(content, "scan.pdf")
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_data" and list(refused.json["fields"]) == ["file"]
    assert _count(app) == 0


def test_markup_deep_inside_a_pdf_is_no_page_and_is_kept(app, api):
    # Browsers judge a file by its first bytes only; further in, such bytes are data (and turn
    # up by chance in compressed streams), so refusing them would refuse honest scans.
    content = _pdf(b"%" + b"x" * 4096 + b"\n%" + SCRIPT)
    response = api(content, "scan.pdf")
    assert response.status_code == 201
    assert response.json["content_type"] == "application/pdf"


def test_oversize_file_is_refused_by_the_form_and_the_api(app, actors, api):
    app.config["MAX_DOCUMENT_BYTES"] = 4096
    big = _pdf(b"%" + b"0" * 8192)
    _case_id, response = _submit(app, actors, (big, "scan.pdf"))
    assert response.status_code == 400 and _field_error(response, "application_form_scan")
    too_large = api(big, "scan.pdf")
    assert too_large.status_code == 413 and too_large.json["error"] == "too_large"
    assert _count(app) == 0


def test_request_beyond_the_upload_limit_is_refused_as_a_whole(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = api(_pdf(b"%" + b"0" * (128 * 1024)), "scan.pdf")
    assert response.status_code == 413 and response.json["error"] == "too_large"
    assert _count(app) == 0


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\System32\\scan.pdf", "scan.pdf"),
        ("/var/www/static/申请表.pdf", "申请表.pdf"),
        ("scan\x00.exe\x1f.pdf", "scan.exe.pdf"),
        ("bad\r\nX-Injected: 1.pdf", "badX-Injected: 1.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # shown as "invoiceexe.pdf" if kept
        ("zero\u200bwidth\ufeff.pdf", "zerowidth.pdf"),
        ("..", "document.pdf"),
        ("\x07\x08", "document.pdf"),
    ],
)
def test_file_names_lose_folders_and_control_characters(app, actors, api, sent, kept):
    response = api(PDF, sent)
    assert response.status_code == 201, response.json
    assert response.json["name"] == kept
    (document,) = _documents(app)
    assert document.original_name == kept
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", document.stored_name)
    download = actors("applicant").get(f"/documents/{document.token}")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert not re.search(r"[\x00-\x1f\x7f\u202e/\\]", disposition)


def test_downloads_are_attachments_that_the_browser_may_not_sniff_or_run(app, actors, api):
    # A PNG sent as "page.html" declared text/html: kept and offered as what it is.
    buffer = io.BytesIO()
    Image.effect_noise((20, 20), 64).convert("RGB").save(buffer, "PNG")
    response = api(buffer.getvalue(), "page.html")
    assert response.status_code == 201 and response.json["content_type"] == "image/png"
    token = response.json["token"]
    for username in ("applicant", "secretary"):
        download = actors(username).get(f"/documents/{token}")
        assert download.status_code == 200
        assert download.mimetype == "image/png"
        disposition = download.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and "filename=page.png" in disposition
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        policy = download.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "default-src 'none'" in policy
        assert download.headers["Cache-Control"] == "private, no-store"
