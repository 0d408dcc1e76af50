"""Admission enters the register and issues one certificate: a PDF with the Chinese text embedded
and a QR code leading to a public page that says whether the certificate is valid."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import segno
from PIL import Image
from sqlalchemy import func, select

from tests.needs import needs
from webapp.extensions import db
from webapp.models import AuditEvent, Case, Certificate, Member
from webapp.services import members

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
# 01:30 on 5 March in Beijing: the admission date is the association's date, not UTC's.
ADMITTED_AT = datetime(2026, 3, 4, 17, 30, tzinfo=UTC)
NAME = "北京示例科技有限公司"

POPPLER = ("pdftotext", "pdffonts", "pdftoppm")
pytestmark = needs(
    all(shutil.which(tool) for tool in POPPLER),
    f"poppler-utils is not installed: {', '.join(POPPLER)} (apt-get install poppler-utils)",
)


def admit_application(app, actors, username="applicant", name=NAME, member_type="unit"):
    """An application of `username` admitted directly through the service, committed."""
    started = actors(username).start_application()
    with app.app_context():
        case = db.session.get(Case, started.id)
        case.name, case.member_type = name, member_type
        case.region, case.industry = "北京市", "it"
        certificate = members.admit(case, ADMITTED_AT)
        db.session.commit()
        return case.id, certificate.verify_token, case.member_number


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def qr_modules(pdf: bytes, tmp_path: Path, size: int) -> list[list[int]]:
    """Read the QR code's modules back from the rendered page (no decoder is installed)."""
    (tmp_path / "qr.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "144",
            "-singlefile",
            str(tmp_path / "qr.pdf"),
            str(tmp_path / "qr"),
        ],
        check=True,
    )
    image = Image.open(tmp_path / "qr.png").convert("L")
    width, height = image.size
    # The code sits in the lower right corner, right of the issuer's line and inside the
    # frame; there, only its modules are this dark.
    region = image.crop((int(width * 0.7), height // 2, width - 100, height - 100))
    left, top, right, bottom = region.point(lambda v: 255 if v < 60 else 0).getbbox()
    assert abs((right - left) - (bottom - top)) <= 2, "the dark area is not one square code"
    step = (right - left) / size
    return [
        [
            int(region.getpixel((int(left + (c + 0.5) * step), int(top + (r + 0.5) * step))) < 128)
            for c in range(size)
        ]
        for r in range(size)
    ]


def test_admitting_twice_keeps_one_member_one_number_one_certificate(app, actors):
    case_id, token, number = admit_application(app, actors)
    with app.app_context():
        case = db.session.get(Case, case_id)
        again = members.admit(case, datetime(2026, 4, 1, tzinfo=UTC))
        db.session.commit()
        assert again.verify_token == token
        assert case.member_number == number
        assert re.fullmatch(r"2026-U-\d{6}", number)
        assert db.session.scalar(select(func.count(Member.id))) == 1
        assert db.session.scalar(select(func.count(Certificate.id))) == 1
        member = db.session.scalars(select(Member)).one()
        assert (member.member_number, member.name, member.status) == (number, NAME, "active")
        assert member.admitted_on.isoformat() == "2026-03-05"
        assert case.admitted_at == ADMITTED_AT
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.instance_id == case.instance_id)
        ).all()
        assert actions.count("member_registered") == 1
        assert actions.count("certificate_issued") == 1


def test_a_number_given_at_approval_is_kept(app, actors):
    started = actors("applicant").start_application()
    with app.app_context():
        case = db.session.get(Case, started.id)
        case.name, case.member_type = "张三", "individual"
        case.member_number = "2026-I-000042"
        certificate = members.admit(case, ADMITTED_AT)
        db.session.commit()
        assert certificate.member.member_number == "2026-I-000042"


def test_applicant_downloads_its_certificate_with_the_chinese_text_embedded(app, actors, tmp_path):
    case_id, token, number = admit_application(app, actors)
    response = actors("applicant").get(f"/cases/{case_id}/certificate.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=certificate-{number}.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    pdf = response.data
    assert pdf.startswith(b"%PDF")

    text = pdf_text(pdf, tmp_path)
    assert NAME in text
    assert number in text
    assert app.config["ASSOCIATION_NAME"] in text
    assert "单位会员" in text
    assert "2026年3月5日" in text
    assert "会员证书" in re.sub(r"\s+", "", text)

    fonts = pdf_fonts(pdf, tmp_path)
    # name type encoding emb sub uni object ID: the CJK font is an embedded TrueType subset.
    assert any("TrueType" in row and row[-5] == "yes" for row in fonts), fonts
    assert not any(row[-5] == "no" for row in fonts), fonts


def test_the_certificate_renders_as_a_picture_not_a_blank_page(app, actors, tmp_path):
    case_id, _token, _number = admit_application(app, actors)
    pdf = actors("applicant").get(f"/cases/{case_id}/certificate.pdf").data
    (tmp_path / "c.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    image = Image.open(png).convert("L")
    assert image.width > image.height  # landscape
    dark = sum(image.histogram()[:100])
    assert dark > 0.01 * image.width * image.height
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "100",
            "-singlefile",
            str(tmp_path / "c.pdf"),
            str(ARTIFACTS / "certificate"),
        ],
        check=True,
    )


def test_the_qr_address_printed_on_the_certificate_verifies_it(app, actors, tmp_path):
    case_id, token, number = admit_application(app, actors)
    pdf = actors("applicant").get(f"/cases/{case_id}/certificate.pdf").data
    url = re.search(r"Verify at: (\S+)", pdf_text(pdf, tmp_path)).group(1)
    # PUBLIC_BASE_URL, as the demo on SQLite has it by default
    assert url == f"http://127.0.0.1:5000/verify/{token}"

    expected = [list(row) for row in segno.make(url, error="m").matrix]
    assert qr_modules(pdf, tmp_path, len(expected)) == expected

    page = actors(None).get(url.removeprefix("http://127.0.0.1:5000"))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-result="valid"' in body
    assert NAME in body and number in body
    assert page.headers["Cache-Control"] == "no-store"


def test_public_base_url_is_used_for_certificates_made_outside_a_request(app, actors, tmp_path):
    _case_id, token, _number = admit_application(app, actors)
    app.config["PUBLIC_BASE_URL"] = "https://members.example.org/"
    with app.app_context():
        certificate = members.find_by_token(token)
        url = members.verify_url(token)
        pdf = members.render_pdf(certificate, url)
    assert url == f"https://members.example.org/verify/{token}"
    assert url in pdf_text(pdf, tmp_path)


def test_another_applicant_gets_not_found_and_the_council_may_download(app, actors, tmp_path):
    case_id, token, number = admit_application(app, actors)
    other = "上海另一科技有限公司"  # a second member: each download must be the one asked for
    other_id, other_token, other_number = admit_application(app, actors, "applicant2", other)
    url = f"/cases/{case_id}/certificate.pdf"
    for username in ("council", "finance"):
        response = actors(username).get(url)
        assert response.status_code == 200, username
        assert response.mimetype == "application/pdf", username
        assert response.headers["Content-Disposition"].endswith(f"certificate-{number}.pdf")
        text = pdf_text(response.data, tmp_path)
        assert NAME in text and number in text and f"/verify/{token}" in text, username
        assert other not in text and other_number not in text and other_token not in text

    refused = actors("applicant2").get(url)  # another applicant's: as if there were none
    assert refused.status_code == 404
    assert refused.mimetype == "text/html" and not refused.data.startswith(b"%PDF")
    body = refused.get_data(as_text=True)
    assert NAME not in body and number not in body and token not in body
    own = actors("applicant2").get(f"/cases/{other_id}/certificate.pdf")
    assert other_number in pdf_text(own.data, tmp_path)  # while its own is there

    anonymous = actors(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")


def test_no_certificate_yet_is_not_found(app, actors):
    started = actors("applicant").start_application()
    assert actors("applicant").get(f"/cases/{started.id}/certificate.pdf").status_code == 404
    assert actors("secretary").get("/cases/999999/certificate.pdf").status_code == 404


def test_a_revoked_certificate_is_reported_not_valid(app, actors, tmp_path):
    case_id, token, number = admit_application(app, actors)
    with app.app_context():
        members.revoke(members.find_by_token(token), datetime(2026, 6, 1, tzinfo=UTC))
        db.session.commit()
    page = actors(None).get(f"/verify/{token}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-result="not-valid"' in body and 'data-result="valid"' not in body
    pdf = actors("applicant").get(f"/cases/{case_id}/certificate.pdf").data
    (tmp_path / "revoked.pdf").write_bytes(pdf)
    plain = subprocess.run(
        ["pdftotext", "-raw", str(tmp_path / "revoked.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "NOT VALID" in plain  # the stamp across the page


def test_a_member_no_longer_active_has_no_valid_certificate(app, actors):
    _case_id, token, _number = admit_application(app, actors)
    with app.app_context():
        member = db.session.scalars(select(Member)).one()
        member.status = "expelled"
        db.session.commit()
    body = actors(None).get(f"/verify/{token}").get_data(as_text=True)
    assert 'data-result="not-valid"' in body


def test_an_unknown_code_is_a_not_found_page(app, actors):
    admit_application(app, actors)
    page = actors(None).get("/verify/no-such-code")
    assert page.status_code == 404
    assert 'data-result="unknown"' in page.get_data(as_text=True)
    assert actors(None).get("/verify/" + "x" * 300).status_code == 404


def test_the_verify_page_shows_nothing_confidential(app, actors):
    started = actors("applicant").start_application()
    with app.app_context():
        case = db.session.get(Case, started.id)
        case.name, case.member_type = NAME, "unit"
        case.data = {"phone": "010-12345678", "credit_code": "91110000600037341L"}
        token = members.admit(case, ADMITTED_AT).verify_token
        db.session.commit()
    body = actors(None).get(f"/verify/{token}").get_data(as_text=True)
    assert "010-12345678" not in body and "91110000600037341L" not in body
    assert "北京市" not in body  # not even the region


def test_the_register_is_for_the_secretariat(app, actors):
    case_id, _token, number = admit_application(app, actors)
    page = actors("secretary").get("/members")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert number in body and NAME in body
    assert f"/cases/{case_id}/certificate.pdf" in body
    assert actors("applicant").get("/members").status_code == 403
    assert actors("council").get("/members").status_code == 403
    with app.app_context():
        rows = members.member_register(limit=10)
        assert [(m.member_number, c.valid) for m, c in rows] == [(number, True)]


def test_without_the_font_file_the_cid_font_is_used_and_a_warning_logged(
    app, actors, tmp_path, caplog
):
    _case_id, token, number = admit_application(app, actors)
    app.config["CERTIFICATE_FONT"] = str(tmp_path / "missing.ttc")
    with app.app_context(), caplog.at_level(logging.WARNING):
        pdf = members.render_pdf(members.find_by_token(token), "http://localhost/verify/x")
    assert "not embedded" in caplog.text
    assert number in pdf_text(pdf, tmp_path)
    assert any(row[0] == "STSong-Light" for row in pdf_fonts(pdf, tmp_path))
