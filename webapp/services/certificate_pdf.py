"""The member certificate as an A4 landscape PDF, with the Chinese font embedded and a QR code
that leads to the public verification page."""

from __future__ import annotations

import io
import threading
from datetime import date
from pathlib import Path

import segno
from flask import current_app
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

from webapp.models import Certificate
from webapp.services import member_types

FALLBACK_FONT = "STSong-Light"
# The certificate is an official document in Chinese with English subtitles, the same whoever
# downloads it, so its wording is fixed here rather than taken from the user's language.

INK = HexColor("#2b2b2b")
RED = HexColor("#9b1c1c")
GOLD = HexColor("#b8912f")
GREY = HexColor("#6b6b6b")
PAPER = HexColor("#fdfaf1")

_font_lock = threading.Lock()
_fonts: dict[str, str] = {}  # configured font path → name registered with reportlab


def render_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """The certificate as PDF bytes; its QR code encodes `verify_url`."""
    member = certificate.member
    font = certificate_font()
    association = current_app.config["ASSOCIATION_NAME"]
    width, height = landscape(A4)
    buffer = io.BytesIO()
    # The initial font is ours too: otherwise an unused, unembedded Helvetica is listed.
    pdf = Canvas(buffer, pagesize=(width, height), pageCompression=1, initialFontName=font)
    pdf.setTitle(f"会员证书 Member Certificate {member.member_number}")
    pdf.setAuthor(association)
    pdf.setSubject(certificate.name)

    _frame(pdf, width, height)
    centre = width / 2
    pdf.setFillColor(INK)
    pdf.setFont(font, 20)
    pdf.drawCentredString(centre, height - 92, association)
    pdf.setFillColor(RED)
    pdf.setFont(font, 46)
    pdf.drawCentredString(centre, height - 158, "会员证书", charSpace=14)
    pdf.setFillColor(GREY)
    pdf.setFont(font, 12)
    pdf.drawCentredString(centre, height - 182, "MEMBER CERTIFICATE", charSpace=4)
    pdf.setStrokeColor(GOLD)
    pdf.setLineWidth(1)
    pdf.line(centre - 120, height - 198, centre + 120, height - 198)

    version_id = member.case.instance.version_id if member.case else None
    type_label, type_english = member_types.certificate_wording(member.member_type, version_id)
    pdf.setFillColor(INK)
    pdf.setFont(font, 14)
    pdf.drawCentredString(centre, height - 232, "兹证明")
    _name(pdf, font, certificate.name, centre, height - 272, width - 260)
    pdf.setFillColor(INK)
    pdf.setFont(font, 14)
    pdf.drawCentredString(centre, height - 308, f"为本会{type_label}，特发此证。")
    pdf.setFillColor(GREY)
    pdf.setFont(font, 10)
    pdf.drawCentredString(
        centre, height - 326, f"is hereby certified as {type_english} of the association."
    )

    rows = (
        ("会员编号", "Member No.", member.member_number),
        ("会员类型", "Member type", type_label),
        ("入会日期", "Admitted on", _chinese_date(member.admitted_on)),
        ("发证日期", "Issued on", _chinese_date(certificate.issued_on)),
    )
    y = height - 372
    for label, english, value in rows:
        pdf.setFillColor(GREY)
        pdf.setFont(font, 12)
        pdf.drawString(150, y, label)
        pdf.setFont(font, 8)
        pdf.drawString(150, y - 11, english)
        pdf.setFillColor(INK)
        pdf.setFont(font, 14)
        pdf.drawString(250, y, value)
        y -= 36

    qr_size = 112
    qr_x, qr_y = width - 118 - qr_size, 98
    _qr(pdf, verify_url, qr_x, qr_y, qr_size)
    pdf.setFillColor(GREY)
    pdf.setFont(font, 9)
    pdf.drawCentredString(qr_x + qr_size / 2, qr_y - 14, "扫码验证 · Scan to verify")

    pdf.setFillColor(INK)
    pdf.setFont(font, 12)
    pdf.drawRightString(qr_x - 40, 132, f"发证单位：{association}")
    pdf.drawRightString(qr_x - 40, 112, _chinese_date(certificate.issued_on))
    pdf.setFillColor(GREY)
    pdf.setFont(font, 8)
    pdf.drawCentredString(centre, 46, f"验证网址 Verify at: {verify_url}")

    if not certificate.valid:
        _void_stamp(pdf, font, width, height)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def certificate_font() -> str:
    """The reportlab name of the certificate font, registered once per process and path."""
    path = current_app.config.get("CERTIFICATE_FONT") or ""
    with _font_lock:
        name = _fonts.get(path)
        if name is None:
            name = _fonts[path] = _register(path)
    return name


def _register(path: str) -> str:
    if path and Path(path).is_file():
        name = "CertificateFont" if not _fonts else f"CertificateFont{len(_fonts)}"
        try:
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
            return name
        except (TTFError, OSError) as err:
            current_app.logger.warning("certificate font %s unusable: %s", path, err)
    current_app.logger.warning(
        "certificate font %s not found: using %s, which is not embedded in the PDF (readers "
        "without Chinese fonts show boxes); install fonts-wqy-microhei or set CERTIFICATE_FONT",
        path,
        FALLBACK_FONT,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


def _frame(pdf: Canvas, width: float, height: float) -> None:
    pdf.setFillColor(PAPER)
    pdf.rect(0, 0, width, height, stroke=0, fill=1)
    pdf.setStrokeColor(RED)
    pdf.setLineWidth(4)
    pdf.rect(22, 22, width - 44, height - 44, stroke=1, fill=0)
    pdf.setStrokeColor(GOLD)
    pdf.setLineWidth(1.2)
    pdf.rect(32, 32, width - 64, height - 64, stroke=1, fill=0)
    # Small corner squares, the usual ornament of a Chinese certificate frame.
    pdf.setFillColor(GOLD)
    for x, y in ((32, 32), (width - 32, 32), (32, height - 32), (width - 32, height - 32)):
        pdf.rect(x - 5, y - 5, 10, 10, stroke=0, fill=1)


def _name(pdf: Canvas, font: str, name: str, centre: float, y: float, room: float) -> None:
    """The member's name, as large as fits, on two lines if it must."""
    size = 30
    while size > 16 and stringWidth(name, font, size) > room:
        size -= 1
    lines = simpleSplit(name, font, size, room)[:2] or [""]
    pdf.setFillColor(INK)
    pdf.setStrokeColor(INK)
    pdf.setLineWidth(0.5)  # fill and stroke (mode 2): a bolder name from a single-weight font
    pdf.setFont(font, size)
    top = y + (size * 0.6 if len(lines) > 1 else 0)
    for index, line in enumerate(lines):
        pdf.drawCentredString(centre, top - index * size * 1.15, line, mode=2)


def _qr(pdf: Canvas, data: str, x: float, y: float, size: float) -> None:
    """A QR code drawn as vector squares, with its quiet zone on white."""
    matrix = segno.make(data, error="m").matrix
    border = 4  # the quiet zone the QR standard asks for, in modules
    module = size / (len(matrix) + 2 * border)
    pdf.setFillColor(white)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColor(INK)
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + border + 1) * module
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            run = column
            while run < len(row) and row[run]:
                run += 1
            left = x + (column + border) * module
            # A hair wider than the module so that neighbouring squares leave no seam.
            pdf.rect(left, top, (run - column) * module + 0.05, module + 0.05, stroke=0, fill=1)
            column = run


def _void_stamp(pdf: Canvas, font: str, width: float, height: float) -> None:
    """Across a revoked certificate, so a printout cannot pass for a valid one."""
    pdf.saveState()
    pdf.setFillColor(Color(0.7, 0.1, 0.1, alpha=0.25))
    pdf.translate(width / 2, height / 2)
    pdf.rotate(24)
    pdf.setFont(font, 72)
    pdf.drawCentredString(0, -10, "已失效 NOT VALID")
    pdf.restoreState()


def _chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
