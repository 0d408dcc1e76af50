"""Notifications: each recipient's message is written in its own language into the outbox, inside
the caller's transaction; webapp.services.mailer mails them later."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache

from flask import current_app
from flask_babel import force_locale, format_currency, format_date, format_decimal, format_time
from jinja2 import Undefined
from sqlalchemy import select
from werkzeug.routing import BuildError

from webapp.config import DEV_BASE_URL
from webapp.extensions import db
from webapp.models import Application, OutboxMessage, User, utcnow
from webapp.services import groups
from webapp.text import one_line

EVENTS = frozenset(
    {
        "task_waiting",
        "applicant_action",
        "application_received",
        "more_material_requested",
        "notice_opened",
        "objection_filed",
        "application_approved",
        "application_rejected",
        "payment_rejected",
        "payment_reminder",
        "application_lapsed",
        "certificate_issued",
        "vote_result",
    }
)


def notify(
    event: str, recipients: User | Iterable[User], application: Application | None = None, **params
) -> list[OutboxMessage]:
    """Queue one message per recipient, in its language; the caller's transaction commits it."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    if isinstance(recipients, User):
        recipients = [recipients]
    context = _event_context(application, params)
    messages, seen = [], set()
    for user in recipients:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        locale = recipient_locale(user)
        subject, body = render(event, locale, recipient_name=user.display_name, **context)
        address = (user.email or "").strip()
        message = OutboxMessage(
            recipient_id=user.id,
            to_address=address,
            locale=locale,
            event=event,
            application_id=application.id if application is not None else None,
            subject=subject[:300],
            body=body,
            created_at=utcnow(),
            # Rows without an address are never picked by the sender: shown in the app only.
            next_attempt_at=utcnow(),
            attempts=0,
        )
        db.session.add(message)
        messages.append(message)
    return messages


def notify_role(
    event: str,
    role: str,
    application: Application | None = None,
    exclude: Iterable[int] = (),
    **params,
) -> list[OutboxMessage]:
    """Queue the message for every active holder of a role, except the excluded user ids."""
    excluded = {getattr(x, "id", x) for x in exclude}
    ids = [i for i in groups.members(role) if i not in excluded]
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)).all()
    return notify(event, users, application, **params)


def recipient_locale(user: User) -> str:
    """The supported UI language closest to the user's choice; the app default otherwise."""
    languages = current_app.config["LANGUAGES"]
    default = current_app.config.get("BABEL_DEFAULT_LOCALE") or languages[0]
    wanted = (user.locale or "").replace("-", "_")
    if wanted in languages:
        return wanted
    same_language = [lang for lang in languages if wanted and lang.split("_")[0] == wanted[:2]]
    return same_language[0] if same_language else default


def render(event: str, locale: str, **params) -> tuple[str, str]:
    """Subject and body of an event's mail template rendered in that locale."""
    template = _marked(current_app.jinja_env, f"mail/{event}.txt")
    context = {
        "association_name": current_app.config["ASSOCIATION_NAME"],
        "when": _when,
        "money": _money,
        **params,
    }
    # The subject is the template's first line. Where it ends is marked with a token nobody can
    # guess, not found by splitting the text: a name carrying a line break (or U+2028) would
    # otherwise end the subject early and start the body with whatever followed it.
    end = secrets.token_hex(16)
    with force_locale(locale):
        # Rendered directly rather than with render_template: a mail must not depend on who is
        # logged in to the request that happened to cause it.
        text = template.render(context, subject_end=end)
    head, _, rest = text.lstrip("\n").partition(end)
    subject = " ".join(one_line(head).split()) or event
    lines = [line.rstrip() for line in rest.strip("\n").splitlines()]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"
    return subject, body


@cache
def _marked(env, name: str):
    """The mail template with `{{ subject_end }}` at the end of its first line."""
    source, _filename, _uptodate = env.loader.get_source(env, name)
    first, newline, rest = source.lstrip("\n").partition("\n")
    return env.from_string(first + "{{ subject_end }}" + newline + rest)


def absolute_url(path: str | None) -> str:
    """An app-relative path as a link a mail reader can follow, on PUBLIC_BASE_URL: never on the
    request's Host header, which whoever sends the request chooses."""
    if not path or "://" in path:
        return path or ""
    base = current_app.config.get("PUBLIC_BASE_URL") or DEV_BASE_URL
    return base.rstrip("/") + "/" + path.lstrip("/")


def messages_for(user_id: int, limit: int = 200) -> list[OutboxMessage]:
    """A user's own messages, newest first, for the in-app list."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient_id == user_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def _event_context(application: Application | None, params: dict) -> dict:
    context = dict(params)
    if application is not None:
        context.setdefault("application_name", application.name or "")
        context.setdefault("path", _application_path(application.id))
    # Every `path` / `*_path` param gets its absolute link: `url`, `certificate_url`, …
    for key, value in params.items():
        if key == "path" or key.endswith("_path"):
            context[key[: -len("path")] + "url"] = absolute_url(value)
    if "path" in context and "url" not in context:
        context["url"] = absolute_url(context["path"])
    return context


def _application_path(application_id: int) -> str:
    try:  # the route's path without a request: mails are also written by the ticker
        return current_app.url_map.bind("localhost").build(
            "portal.detail", {"application_id": application_id}
        )
    except BuildError:
        return ""


def _when(value: datetime | date | None) -> str:
    if not isinstance(value, date):  # None, or a param the caller left out (Undefined)
        return str(value or "")
    if isinstance(value, datetime):
        # In the association's time zone (flask-babel rebases datetimes to it).
        return f"{format_date(value, 'long')} {format_time(value, 'short')}"
    return format_date(value, "long")


def _money(amount, currency: str | None = None) -> str:
    if amount is None or amount == "" or isinstance(amount, Undefined):
        return ""
    try:
        if currency and not isinstance(currency, Undefined):
            return format_currency(amount, currency)
        return format_decimal(amount)
    except (ValueError, TypeError, ArithmeticError):
        return f"{amount} {currency or ''}".strip()
