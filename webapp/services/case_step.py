"""The case whose step the engine is taking in this transaction, for the diagram functions that
act on the register: they act on that case, inside that step's transaction, for whoever moved it.

Taking an instance's lock opens the step (webapp.services.workflow); the end of the transaction
closes it, so a function called outside any step (or after its commit) finds none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.models import Case

_KEY = "case_step"


@dataclass
class CaseStep:
    instance_id: int
    actor_id: int | None = None
    case: Case | None = None  # when the caller has it at hand: no read per diagram function


def begin(instance_id: int, actor_id: int | None = None, case: Case | None = None) -> None:
    """The transaction now moves this instance (its lock is held), for this user if any;
    `case`: the instance's case, if the caller read it under the lock or just created it."""
    db.session.info[_KEY] = CaseStep(instance_id, actor_id, case)


def act_as(actor_id: int | None) -> None:
    """Whoever moves the step, once known (after the lock was taken)."""
    step = db.session.info.get(_KEY)
    if step is not None:
        step.actor_id = actor_id


@contextmanager
def aside() -> Iterator[None]:
    """Move another instance inside this step (a case this one settles, e.g. the dues a
    withdrawal waives), then come back: the diagram functions act on this case again."""
    before = db.session.info.get(_KEY)
    try:
        yield
    finally:
        db.session.info[_KEY] = before


def current() -> tuple[Case, int | None]:
    """The case being moved and who moves it; ValueError outside a case's step (a diagram
    function reports it at the element that called it)."""
    step = db.session.info.get(_KEY)
    case = None
    if step is not None and step.case is not None and step.case in db.session:
        case = step.case
    elif step is not None:
        case = db.session.scalars(select(Case).where(Case.instance_id == step.instance_id)).first()
    if case is None:
        raise ValueError("this function acts on a case and can only run in a step of one")
    return case, step.actor_id


@event.listens_for(Session, "after_transaction_end")
def _end(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
