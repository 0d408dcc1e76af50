"""Member types are the model's data (`member_types.data.json`: key → zh/en names, the code in
the member number, the certificate's wording); the fees by type are its fee schedule."""

from __future__ import annotations

from webapp.services import model_data

FILE = "member_types.data.json"


def label(member_type: str | None, version_id: int | None = None) -> str:
    """The type's name in the reader's language; the key when no model names it."""
    return model_data.localized(model_data.entry(FILE, member_type, version_id), member_type or "")


def labels() -> dict[str, str]:
    """Every type the live models name, with its name in the reader's language."""
    return {key: model_data.localized(entry, key) for key, entry in model_data.live(FILE).items()}


def number_code(member_type: str | None, version_id: int | None = None) -> str:
    """The letter(s) of the type in a member number (`X` for a type no model names)."""
    found = model_data.entry(FILE, member_type, version_id)
    code = found.get("number_code") if isinstance(found, dict) else None
    return str(code) if code else "X"


def certificate_wording(member_type: str | None, version_id: int | None = None) -> tuple[str, str]:
    """The certificate's words for the type, in Chinese and in English."""
    found = model_data.entry(FILE, member_type, version_id)
    wording = found.get("certificate") if isinstance(found, dict) else None
    if not isinstance(wording, dict):
        return member_type or "", member_type or ""
    return str(wording.get("zh") or member_type or ""), str(wording.get("en") or "")
