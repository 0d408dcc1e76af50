"""What the process models' data files (`forms/<process>/*.data.json`) say, for the pages and
documents that show it: per version, or merged over the live models for lists that span
procedures (a key two models share takes the first model's entry)."""

from __future__ import annotations

import threading

from flask_babel import get_locale
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import ProcessModel

_LIVE = "model_data.live_versions"
_merged: dict[tuple, dict[str, dict]] = {}
_lock = threading.Lock()


def of_version(version_id: int, file: str) -> dict:
    """A data file of one version ({} when the version has none or it is not an object)."""
    # Imported here: the engine (in workflow) is made with the diagram functions, some of which
    # read model data.
    from webapp.services.workflow import version_content

    content = version_content(version_id).forms.get(file)
    return content if isinstance(content, dict) else {}


def live_versions() -> tuple[int, ...]:
    """The live version of every model, in the order the models were made."""
    versions = db.session.info.get(_LIVE)
    if versions is None:  # which versions are live is read once per transaction
        versions = tuple(
            db.session.scalars(
                select(ProcessModel.live_version_id)
                .where(ProcessModel.live_version_id.is_not(None))
                .order_by(ProcessModel.id)
            )
        )
        db.session.info[_LIVE] = versions
    return versions


def live(file: str) -> dict:
    """A data file's entries over every live model, merged."""
    versions = live_versions()
    key = (str(db.engine.url), versions, file)
    merged = _merged.get(key)
    if merged is None:
        merged = {}
        for version_id in versions:
            for entry_key, entry in of_version(version_id, file).items():
                merged.setdefault(entry_key, entry)
        with _lock:
            _merged[key] = merged
    return merged


def entry(file: str, key: str | None, version_id: int | None = None):
    """One entry of a data file, of a version or of the live models; None if absent."""
    if not key:
        return None
    return (of_version(version_id, file) if version_id is not None else live(file)).get(key)


def localized(value, fallback: str = "") -> str:
    """A {"zh": …, "en": …} value in the reader's language (Chinese when English is missing)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return fallback
    english = str(get_locale() or "").startswith("en")
    return str((value.get("en") if english else None) or value.get("zh") or fallback)


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_LIVE, None)
