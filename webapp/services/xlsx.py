"""A write-only XLSX workbook of one sheet of text cells, row by row into a zip file, so an
export of 100,000 rows keeps memory flat. (openpyxl is not among the installed packages; this
writes the few parts Excel, LibreOffice and WPS need: inline strings, no shared-string table.)"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PACKAGE}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_SHEET_TYPE}.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    f'ContentType="{_SHEET_TYPE}.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE}">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
# Characters XML 1.0 cannot carry at all.
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _row(number: int, cells: Iterable[str]) -> str:
    parts = []
    for i, cell in enumerate(cells):
        text = escape(_INVALID.sub("", str(cell)))
        cell_ref = f"{_column(i)}{number}"
        parts.append(
            f'<c r="{cell_ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
        )
    return f'<row r="{number}">{"".join(parts)}</row>'


def workbook(rows: Iterable[Iterable[str]], sheet: str = "Sheet1"):
    """A temporary file holding the workbook, rewound; the caller sends and closes it."""
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK.format(name=escape(sheet)))
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with book.open("xl/worksheets/sheet1.xml", "w") as part:
            part.write(f'{_XML}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
            for number, cells in enumerate(rows, start=1):
                part.write(_row(number, cells).encode("utf-8"))
            part.write(b"</sheetData></worksheet>")
    out.seek(0)
    return out


def read_rows(data: bytes) -> list[list[str]]:
    """The text cells of a workbook this module wrote (for tests and checks)."""
    import io
    from xml.etree import ElementTree

    ns = {"m": _MAIN}
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        root = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    return [
        ["".join(t.text or "" for t in c.iter(f"{{{ns['m']}}}t")) for c in row.findall("m:c", ns)]
        for row in root.iter(f"{{{ns['m']}}}row")
    ]
