"""Every message of the UI has its Simplified Chinese translation (the default language)."""

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
ZH = ROOT / "webapp" / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def test_every_message_is_translated_to_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            str(ROOT),
        ]
    )
    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    assert len(wanted) > 100  # the extraction really read the templates and modules
    with ZH.open("rb") as f:
        translated = {m.id for m in read_po(f) if m.id and m.string and "fuzzy" not in m.flags}
    assert sorted(wanted - translated) == []
