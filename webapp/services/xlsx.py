"""A one-sheet XLSX workbook of text cells, written with openpyxl's write-only mode so that an
export of 100,000 rows keeps memory flat."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE


def workbook(rows: Iterable[Iterable[str]], sheet: str = "Sheet1"):
    """A temporary file holding the workbook, rewound; the caller sends and closes it."""
    book = Workbook(write_only=True)
    page = book.create_sheet(title=sheet[:31] or "Sheet1")
    for cells in rows:
        page.append([_cell(value) for value in cells])
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    return out


def _cell(value):
    if value is None:
        return None
    # Control characters are not allowed in an XLSX cell: they are dropped, not fatal.
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def read_rows(data: bytes) -> list[list[str]]:
    """The cells of a workbook as text (for tests and checks)."""
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
