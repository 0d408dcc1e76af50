"""Text people type, made fit for the places it ends up: one line where a line break would
split something (a mail header, a subject, a name), and no invisible characters that reorder
or hide what a reader sees."""

from __future__ import annotations

import re
import unicodedata

# Every character str.splitlines() breaks at: CR, LF, VT, FF, the file/group/record
# separators, NEL and the Unicode line and paragraph separators.
LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"[{re.escape(LINE_BREAKS)}]+")


def has_line_break(text: str) -> bool:
    """Whether the text would show, or be split, as more than one line."""
    return _LINE_BREAK.search(text) is not None


def one_line(text: str) -> str:
    """The text with each run of line breaks turned into one space."""
    return _LINE_BREAK.sub(" ", text)


def visible(text: str) -> str:
    """The text without control characters (Cc) and format characters (Cf: the bidirectional
    overrides and isolates such as U+202E, zero-width characters), line breaks made spaces,
    and surrounding blanks removed: what a name may consist of."""
    text = one_line(text)
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf")).strip()
