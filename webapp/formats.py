"""The formats our form schemas use beyond JSON Schema's own: Chinese unified social credit
codes and resident ID numbers (checked with python-stdnum), e-mail addresses, ISO dates and
document tokens."""

from __future__ import annotations

import datetime as dt
import re

from jsonschema import FormatChecker
from stdnum.cn import ric, uscc

FORMAT_CHECKER = FormatChecker()
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@FORMAT_CHECKER.checks("cn-uscc", raises=())
def _is_uscc(value) -> bool:
    return not isinstance(value, str) or uscc.is_valid(value)


@FORMAT_CHECKER.checks("cn-ric", raises=())
def _is_ric(value) -> bool:
    return not isinstance(value, str) or ric.is_valid(value)


@FORMAT_CHECKER.checks("email", raises=())
def _is_email(value) -> bool:
    return (
        not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None
    )


@FORMAT_CHECKER.checks("document", raises=())
def _is_document(value) -> bool:
    # The token of an uploaded document; whose document it is, services.documents checks.
    return not isinstance(value, str) or value.strip() != ""


@FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(value) -> bool:
    # YYYY-MM-DD only, as the message says: fromisoformat alone also takes 20260601 and
    # week dates (2026-W23-1), which nobody reading the data would expect.
    if not isinstance(value, str):
        return True
    return bool(ISO_DATE.fullmatch(value)) and bool(dt.date.fromisoformat(value))
