"""A process owner's working copy of a model: the editor's diagram, forms and model data saved
without deploying, one per model. It is a draft, so it is stored unchecked; deploying checks it.

Two owners may edit the same model: each save, discard and deploy names the revision its editor
opened, and is refused (CopyConflict, nothing written) when the copy has changed since."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import ProcessModel, User, WorkingCopy, utcnow
from webapp.services import audit
from webapp.services.errors import DomainError, NotFound


class CopyConflict(DomainError):
    """The working copy changed since the editor opened it; `action` is what was done to it
    (saved, discarded, deployed), by whom and when, and `revision` where it stands now."""

    status = 409

    def __init__(self, revision: int, action: str, by: str | None, at: datetime | None):
        super().__init__(revision)
        self.revision, self.action, self.by, self.at = revision, action, by, at


@dataclass(frozen=True)
class Copy:
    """The working copy as the editor shows it; `bpmn` None: there is none now."""

    revision: int
    bpmn: str | None
    forms: dict[str, Any] | None
    base_number: int | None
    action: str
    by: str | None
    at: datetime | None

    @property
    def exists(self) -> bool:
        return self.bpmn is not None


NONE = Copy(0, None, None, None, "none", None, None)


def current(model: ProcessModel) -> Copy:
    """The model's working copy (NONE when it never had one)."""
    row = db.session.scalars(
        select(WorkingCopy)
        .where(WorkingCopy.model_id == model.id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        return NONE
    user = db.session.get(User, row.saved_by_id) if row.saved_by_id else None
    return Copy(
        row.revision,
        row.bpmn,
        dict(row.forms) if row.forms is not None else None,
        row.base_number,
        row.last_action,
        user.display_name if user else None,
        row.saved_at,
    )


def save(
    key: str,
    bpmn: str,
    forms: dict[str, Any],
    opened_revision: int,
    base_number: int | None,
    user: User,
) -> Copy:
    """Store the editor's bundle as the model's working copy, if it is still at the revision
    the editor opened (else CopyConflict, nothing written). One transaction."""
    model = _model(key)
    try:
        _write(
            model,
            opened_revision,
            {"bpmn": bpmn, "forms": forms, "base_number": base_number},
            "saved",
            user,
        )
        audit.record(
            "working_copy_saved", user.id, data={"model": key, "base_version": base_number}
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return current(model)


def discard(key: str, opened_revision: int, user: User) -> Copy:
    """Throw the working copy away (the editor then opens the live version), unless another
    owner changed it since this one opened it."""
    model = _model(key)
    try:
        _write(model, opened_revision, _EMPTY, "discarded", user)
        audit.record("working_copy_discarded", user.id, data={"model": key})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return current(model)


def end_with_deploy(model: ProcessModel, opened_revision: int, user: User) -> int:
    """Within the deploy's transaction (the caller commits): the deployed copy is no longer a
    working copy. Returns the new revision; CopyConflict when someone changed it meanwhile."""
    if opened_revision == 0 and current(model) is NONE:
        return 0  # never had a copy: nothing to end
    return _write(model, opened_revision, _EMPTY, "deployed", user)


_EMPTY = {"bpmn": None, "forms": None, "base_number": None}


def _model(key: str) -> ProcessModel:
    model = db.session.scalars(select(ProcessModel).where(ProcessModel.key == key)).first()
    if model is None:
        raise NotFound()
    return model


def _write(
    model: ProcessModel, opened_revision: int, values: dict[str, Any], action: str, user: User
) -> int:
    """Write the row if it is at `opened_revision` (0: no row yet): the compare and the write
    are one statement (or one insert against the unique model), so of two racing owners only
    one gets through. Returns the new revision."""
    stamp = {"last_action": action, "saved_by_id": user.id, "saved_at": utcnow(), **values}
    if opened_revision == 0:
        if current(model) is not NONE:
            raise _conflict(model)
        try:
            db.session.add(WorkingCopy(model_id=model.id, revision=1, **stamp))
            db.session.flush()
        except IntegrityError:
            db.session.rollback()  # the other owner's first save came in between
            raise _conflict(model) from None
        return 1
    changed = db.session.execute(
        update(WorkingCopy)
        .where(WorkingCopy.model_id == model.id, WorkingCopy.revision == opened_revision)
        .values(revision=WorkingCopy.revision + 1, **stamp)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise _conflict(model)
    return opened_revision + 1


def _conflict(model: ProcessModel) -> CopyConflict:
    now = current(model)
    return CopyConflict(now.revision, now.action, now.by, now.at)
