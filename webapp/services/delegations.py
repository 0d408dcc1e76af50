"""Delegation: while someone is away, the substitute they named sees their tasks and may do
them — their personal ones (a vote) too, unless the diagram marks the task `delegable=false`.
Every such act is recorded as the substitute's, for the person away."""

from __future__ import annotations

from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select

from webapp.extensions import db
from webapp.models import Delegation, HumanTask, User, utcnow
from webapp.models.users import association_today
from webapp.services import audit
from webapp.services.errors import InvalidFormData, NotFound
from webapp.services.transactions import committed
from webapp.services.workflow import task_property

LONGEST = timedelta(days=366)  # an absence longer than a year is a change of who sits where


@committed
def create(
    user: User, substitute: User | None, starts_on: date | None, ends_on: date | None
) -> Delegation:
    """Name a substitute for a period; every problem of the request at once."""
    errors: dict[str, list[str]] = {}
    if substitute is None or not substitute.active:
        errors["substitute"] = [_("There is no active account of this username.")]
    elif substitute.id == user.id:
        errors["substitute"] = [_("Name someone else: you cannot be your own substitute.")]
    today = association_today()
    if starts_on is None:
        errors["starts_on"] = [_("Give a date as YYYY-MM-DD.")]
    if ends_on is None:
        errors["ends_on"] = [_("Give a date as YYYY-MM-DD.")]
    elif ends_on < today:
        errors["ends_on"] = [_("The period is over already.")]
    if starts_on and ends_on and (ends_on < starts_on or ends_on - starts_on > LONGEST):
        errors["ends_on"] = [_("The period must end after it begins, within a year.")]
    if errors:
        raise InvalidFormData(errors, {"starts_on": starts_on, "ends_on": ends_on})
    delegation = Delegation(
        user_id=user.id, substitute_id=substitute.id, starts_on=starts_on, ends_on=ends_on
    )
    db.session.add(delegation)
    db.session.flush()
    audit.record(
        "delegation_created",
        user.id,
        data={
            "substitute_id": substitute.id,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        },
    )
    return delegation


@committed
def withdraw(user: User, delegation_id: int) -> None:
    """End one's own delegation now."""
    delegation = db.session.get(Delegation, delegation_id)
    if delegation is None or delegation.user_id != user.id:
        raise NotFound("delegation")
    if delegation.withdrawn_at is None:
        delegation.withdrawn_at = utcnow()
        audit.record("delegation_withdrawn", user.id, data={"delegation_id": delegation.id})


def of_user(user: User) -> list[Delegation]:
    """The delegations a person gave or received that are not over, soonest first."""
    today = association_today()
    return list(
        db.session.scalars(
            select(Delegation)
            .where(
                or_(Delegation.user_id == user.id, Delegation.substitute_id == user.id),
                Delegation.withdrawn_at.is_(None),
                Delegation.ends_on >= today,
            )
            .order_by(Delegation.starts_on, Delegation.id)
        )
    )


def principals(substitute: User) -> list[User]:
    """The active people the substitute stands in for today."""
    today = association_today()
    return list(
        db.session.scalars(
            select(User)
            .join(Delegation, Delegation.user_id == User.id)
            .where(
                Delegation.substitute_id == substitute.id,
                Delegation.withdrawn_at.is_(None),
                Delegation.starts_on <= today,
                Delegation.ends_on >= today,
                User.active.is_(True),
            )
            .order_by(User.id)
        ).unique()
    )


def delegable(task: HumanTask) -> bool:
    """Whether a substitute may do the task: the diagram may keep it to the person it is for
    (the user task's property delegable=false)."""
    return task_property(task, "delegable").lower() != "false"
