"""A table as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right) or as an
XLSX workbook of one sheet (openpyxl)."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

# A cell starting with these would run as a formula in a spreadsheet program.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_csv(columns: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_text(c) for c in columns])
    for row in rows:
        writer.writerow([v if isinstance(v, int | float) else _text(v) for v in row])
    return out.getvalue()


def as_xlsx(title: str, columns: list[str], rows: list[list]) -> bytes:
    """One sheet named after the figure: its column names, then its rows; text that would read
    as a formula is written as text."""
    book = Workbook()
    sheet = book.active
    sheet.title = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet1"
    sheet.append([_text(c) for c in columns])
    for row in rows:
        sheet.append([v if isinstance(v, int | float) else _text(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
