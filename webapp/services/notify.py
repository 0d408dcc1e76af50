"""Notifications: each recipient's message is written into the outbox inside the caller's
transaction, as a template name and its parameters at that moment; it is rendered in the
recipient's language once, when webapp.services.mailer mails it or its recipient's list shows it,
whichever comes first. A message is a template named by the diagram: the model's own
(webapp.services.message_templates, rendered in a sandbox) or, for the few that belong to no
procedure, the platform's in templates/mail."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from flask import current_app
from flask_babel import (
    force_locale,
    format_currency,
    format_date,
    format_decimal,
    format_time,
    gettext,
)
from jinja2 import Undefined
from sqlalchemy import bindparam, func, select, update
from werkzeug.routing import BuildError

from webapp.config import DEV_BASE_URL
from webapp.extensions import db
from webapp.models import (
    Case,
    Certificate,
    OutboxMessage,
    ProcessInstance,
    User,
    parse_iso,
    utcnow,
)
from webapp.services import groups, message_templates, row_writes
from webapp.services.workflow import version_content
from webapp.text import one_line

# Process data that looks like an ISO date or timestamp is handed to messages as a datetime, so
# that `when()` writes it in the reader's language.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+([+-]\d{2}:?\d{2}|Z)?)?")


def notify(
    event: str,
    recipients: User | Iterable[User],
    case: Case | None = None,
    version_id: int | None = None,
    **params,
) -> list[OutboxMessage]:
    """Queue one message per recipient, in its language; the caller's transaction commits it.

    `event` names the template: the model's `messages/<event>.<language>.txt` (of `version_id`,
    by default the version the case's instance runs on), else the platform's `mail/<event>.txt`.
    A template gets the case (name, facts, status, outcome, member number) and `params`, as they
    are now: the message keeps them until it is rendered (see `render_pending`)."""
    if isinstance(recipients, User):
        recipients = [recipients]
    if version_id is None and case is not None:
        version_id = version_of(case)
    files = _files(version_id)
    snapshot = _snapshot(case, params)
    now = utcnow()
    messages, seen = [], set()
    for user in recipients:
        if user is None or user.id in seen:
            continue
        seen.add(user.id)
        locale = recipient_locale(user)
        # A name with no template is the caller's mistake: it fails the step, as it always did.
        _template_source(event, message_templates.language_of(locale), files)
        message = OutboxMessage(
            recipient_id=user.id,
            to_address=(user.email or "").strip(),
            locale=locale,
            event=event,
            case_id=case.id if case is not None else None,
            params={**snapshot, "recipient_name": user.display_name},
            version_id=version_id,
            created_at=now,
            # Rows without an address are never picked by the sender: shown in the app only.
            next_attempt_at=now,
            attempts=0,
        )
        messages.append(message)
    row_writes.insert_objects(messages)
    return messages


def notify_role(
    event: str,
    role: str,
    case: Case | None = None,
    exclude: Iterable[int] = (),
    **params,
) -> list[OutboxMessage]:
    """Queue the message for every active holder of a role, except the excluded user ids."""
    excluded = {getattr(x, "id", x) for x in exclude}
    ids = [i for i in groups.members(role) if i not in excluded]
    users = db.session.scalars(_PEOPLE, {"ids": ids}).all()
    return notify(event, users, case, **params)


_PEOPLE = select(User).where(User.id.in_(bindparam("ids", expanding=True))).order_by(User.id)


def recipient_locale(user: User) -> str:
    """The supported UI language closest to the user's choice; the app default otherwise."""
    languages = current_app.config["LANGUAGES"]
    default = current_app.config.get("BABEL_DEFAULT_LOCALE") or languages[0]
    wanted = (user.locale or "").replace("-", "_")
    if wanted in languages:
        return wanted
    same_language = [lang for lang in languages if wanted and lang.split("_")[0] == wanted[:2]]
    return same_language[0] if same_language else default


class MessageFailed(Exception):
    """A model's message template raised while it was rendered."""


def version_of(case: Case) -> int | None:
    """The model version the case's instance runs on: its messages are the case's."""
    instance = db.session.get(ProcessInstance, case.instance_id)
    return instance.version_id if instance is not None else None


def rendered(message: OutboxMessage) -> OutboxMessage:
    """The message with its subject and body, rendered now if it was not yet (see
    `render_pending`)."""
    render_pending([message])
    return message


def render_pending(messages: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    """Render the messages not rendered yet, each once: its subject and body are stored on the
    row (the caller commits) and its parameters dropped. Returns those that could not be
    written, a model's template having failed: each is marked (`last_error`, never mailed),
    says so to its recipient in the app, and the others go on."""
    pending = [message for message in messages if message.subject is None]
    certified = _certificates({m.case_id for m in pending if m.case_id is not None})
    failed = []
    for message in pending:
        try:
            subject, body = render(
                message.event,
                message.locale,
                files=_files(message.version_id),
                **_context(message, certified),
            )
        except MessageFailed as err:
            # A model's template that fails (or tries what the sandbox refuses) costs its
            # message, never the sending of the others nor the page that lists it.
            current_app.logger.exception(
                "message %s (outbox %s) could not be written", message.event, message.id
            )
            _mark_unwritable(message, err)
            failed.append(message)
            continue
        message.subject, message.body, message.params = subject[:300], body, None
    return failed


def _mark_unwritable(message: OutboxMessage, error: MessageFailed) -> None:
    cause = error.__cause__ or error
    message.last_error = f"{type(error).__name__}: {type(cause).__name__}: {cause}"[:2000]
    message.next_attempt_at = None
    with force_locale(message.locale):
        message.subject = gettext("A message could not be written")[:300]
        message.body = (
            gettext(
                "The message %(event)s could not be written; the error was logged for the "
                "administrators.",
                event=message.event,
            )
            + "\n"
        )


def _files(version_id: int | None) -> Mapping[str, object]:
    return version_content(version_id).forms or {} if version_id is not None else {}


def _template_source(event: str, language: str, files: Mapping[str, object]) -> str | None:
    """The model's template of that name and language, None for the platform's; a name that
    is neither is the caller's mistake."""
    source = files.get(message_templates.file_name(event, language))
    if isinstance(source, str):
        return source
    if message_templates.has_platform_message(event):
        return None
    raise ValueError(f"no message template {event!r}")


def render(
    event: str, locale: str, files: Mapping[str, object] | None = None, **params
) -> tuple[str, str]:
    """Subject and body of a message rendered in that locale: the model's own template of
    that name and language when `files` has one, else the platform's."""
    language = message_templates.language_of(locale)
    source = _template_source(event, language, files or {})
    if source is not None:
        template = _sandboxed(files, language, source)
    else:
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
        if source is not None:
            try:
                text = template.render(context, subject_end=end)
            except Exception as err:  # noqa: BLE001 — whatever a process owner's template does
                raise MessageFailed(event) from err
        else:
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
    return env.from_string(_mark(source))


def _sandboxed(files: Mapping[str, object], language: str, source: str):
    """A model's template compiled in the sandbox, once per version content and language."""
    key = (id(files), language, source)
    cached = _compiled.get(key)
    if cached is None or cached[0] is not files:
        env = message_templates.environment(files, language)
        try:
            cached = (files, env.from_string(_mark(source)))
        except Exception as err:  # noqa: BLE001 — refused at validation; a stored one failing
            raise MessageFailed(source[:40]) from err
        if len(_compiled) > 512:
            _compiled.clear()
        _compiled[key] = cached
    return cached[1]


# Compiled model templates by the identity of their version's files (versions never change
# and their files stay cached by webapp.services.workflow); the files are kept with the
# template so that an id is never mistaken for a new dict's.
_compiled: dict[tuple[int, str, str], tuple[Mapping, object]] = {}


def _mark(source: str) -> str:
    first, newline, rest = source.lstrip("\n").partition("\n")
    return first + "{{ subject_end }}" + newline + rest


def absolute_url(path: str | None) -> str:
    """An app-relative path as a link a mail reader can follow, on PUBLIC_BASE_URL: never on the
    request's Host header, which whoever sends the request chooses."""
    if not path or "://" in path:
        return path or ""
    base = current_app.config.get("PUBLIC_BASE_URL") or DEV_BASE_URL
    return base.rstrip("/") + "/" + path.lstrip("/")


def messages_for(user_id: int, limit: int = 200) -> list[OutboxMessage]:
    """A user's own messages, newest first, for the in-app list: those not rendered yet are
    rendered now and kept (the caller commits)."""
    messages = list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient_id == user_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )
    render_pending(messages)
    return messages


def unread_count(user_id: int) -> int:
    """How many of the user's messages it has not seen in its list yet (the navbar's badge)."""
    return db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.recipient_id == user_id, OutboxMessage.read_at.is_(None))
    )


def mark_read(user_id: int) -> None:
    """The user has seen its list: every message in it counts as read. Commits."""
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_id == user_id, OutboxMessage.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _snapshot(case: Case | None, params: Mapping) -> dict:
    """What a message about the case will say, as JSON: the case as it is at this step (its
    facts raw, as stored) and the caller's parameters, dates as ISO strings."""
    snapshot = {"params": _plain(params)}
    if case is not None:
        snapshot["case"] = {
            "id": case.id,
            "name": case.name or "",
            "title": case.title or "",
            "status": case.status,
            "stage": case.stage,
            "outcome_code": case.outcome_code or "",
            "outcome_reason": case.outcome_reason or "",
            "member_number": case.member_number,
            "facts": _plain(case.facts or {}),
        }
    return snapshot


def _plain(value):
    # A copy, too: the step may change the case's facts in place after it notified.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _context(message: OutboxMessage, certified: Mapping[int, datetime]) -> dict:
    """The template's context from the message's snapshot: ISO dates back to dates."""
    snapshot = message.params or {}
    case = snapshot.get("case")
    context = {}
    if case:
        context = _case_context(case)
        # A certificate issued after the message was written is not the message's to link.
        issued_at = certified.get(case["id"])
        if issued_at is not None and issued_at <= message.created_at:
            context["certificate_path"] = _path("certificates.pdf", case_id=case["id"])
    context.update({key: _param(value) for key, value in snapshot.get("params", {}).items()})
    context["recipient_name"] = snapshot.get("recipient_name", "")
    # Every `path` / `*_path` value gets its absolute link: `url`, `certificate_url`, …
    for key, value in list(context.items()):
        if key == "path" or key.endswith("_path"):
            context[key[: -len("path")] + "url"] = absolute_url(value)
    return context


def _case_context(case: dict) -> dict:
    """What every message about a case may say: the case and the facts its process published,
    ISO dates among them as datetimes."""
    facts = {key: _parsed(value) for key, value in (case.get("facts") or {}).items()}
    return {
        **facts,
        "facts": facts,
        "application_name": case["name"],
        **{key: case[key] for key in ("name", "title", "status", "stage", "member_number")},
        "outcome_code": case["outcome_code"],
        "outcome_reason": case["outcome_reason"],
        "path": _case_path(case["id"]),
    }


def _certificates(case_ids: set[int]) -> dict[int, datetime]:
    """When each of these cases' certificate was issued, in one read. Asked when messages are
    rendered, not in the step, which reads no row for its mail; the step that issues one
    stamps it before it notifies."""
    if not case_ids:
        return {}
    query = select(Certificate.case_id, Certificate.issued_at).where(
        Certificate.case_id.in_(case_ids)
    )
    # Without autoflush: a list's or the sender's pending changes have nothing to do with it.
    with db.session.no_autoflush:
        return dict(db.session.execute(query).all())


def _parsed(value):
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        return parse_iso(value) or value
    return value


def _param(value):
    # A caller's date stays a date (`when()` writes no time for it), its datetime a datetime.
    if isinstance(value, str) and len(value) == 10 and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return _parsed(value)


def _case_path(case_id: int) -> str:
    return _path("portal.detail", case_id=case_id)


def _path(endpoint: str, **values) -> str:
    try:  # the route's path without a request: mails are also written by the ticker
        return current_app.url_map.bind("localhost").build(endpoint, values)
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
