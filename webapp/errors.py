"""Error pages: every error a user can cause gets its status and a sentence in its language,
never a stack trace."""

from __future__ import annotations

from flask import Flask, Response, render_template
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from webapp.api.errors import HTTP_CODES, domain_code, error_response, wants_json
from webapp.engine.types import fill
from webapp.extensions import db
from webapp.services.errors import (
    DomainError,
    Forbidden,
    InvalidFormData,
    NoLiveModel,
    NotFound,
    NoticeClosed,
    ProcessError,
    TaskClaimed,
    TaskNotOpen,
)


def message_for(error: Exception) -> str:
    """The sentence shown to the user for an error."""
    if isinstance(error, TaskNotOpen):
        if error.state == "cancelled":
            return _("This task is no longer open: the procedure withdrew it.")
        if error.by:
            return _(
                "This task is no longer open: %(who)s completed it first, at %(when)s.",
                who=error.by,
                when=format_datetime(error.at) if error.at else "",
            )
        return _("This task is no longer open: it has already been completed.")
    if isinstance(error, TaskClaimed):
        return _(
            "%(who)s has claimed this task (at %(when)s); ask them, or wait until they release it.",
            who=error.by,
            when=format_datetime(error.at) if error.at else "",
        )
    if isinstance(error, Forbidden):
        if error.reason == "assigned":
            return _("This task is given to one person by the procedure; it cannot be claimed.")
        if error.reason == "not_claimable":
            return _("Only the tasks of a committee lane can be claimed.")
        if error.reason == "not_a_colleague":
            return _(
                "A task can be given only to an active member of its lane, "
                "never to the person the case is about."
            )
        if error.reason == "not_applicant":
            return _("Only applicant accounts can start an application.")
        if error.reason == "not_assignee":
            return _("This task was given to another person.")
        if error.reason == "own_case":
            return _("You cannot review, vote on or otherwise decide your own application.")
        if error.reason == "not_startable":
            return _("You may not start this procedure.")
        if error.reason == "not_delegable":
            return _(
                "The procedure keeps this task to the person it is for: a substitute cannot do it."
            )
        if error.reason == "case_closed":
            return _("This case has already ended: there is nothing left to withdraw.")
        if error.reason == "decision_final":
            return _("The decision on this case is final: it can no longer be withdrawn.")
        if error.reason == "not_empty":
            return _("Only an empty draft can be deleted: withdraw this case instead.")
        if error.reason == "not_started_by_subject":
            return _("Only the person who started this case about themselves may do this.")
        return _("This task belongs to a role you do not hold.")
    if isinstance(error, NotFound):
        return _("There is no such page, or it is not yours to see.")
    if isinstance(error, ProcessError):
        detail = error.detail
        if error.template:
            detail = fill(_(error.template), error.params)
        return _(
            "The procedure could not take this step, so nothing was changed. Please tell "
            "the process owner: %(detail)s",
            detail=detail,
        )
    if isinstance(error, NoticeClosed):
        if error.closed_at is not None:
            return _(
                "The notice period of this application ended at %(when)s; objections are no "
                "longer accepted.",
                when=format_datetime(error.closed_at),
            )
        return _("This application is not on public notice; objections are not accepted.")
    if isinstance(error, InvalidFormData):
        return _("Some fields are not filled in correctly; see the message at each field.")
    if isinstance(error, NoLiveModel):
        return _("The admission procedure has not been set up yet.")
    return _("The request could not be processed.")


HTTP_MESSAGES = {
    400: lambda: _("The request could not be processed."),
    403: lambda: _("You are not allowed to do this."),
    404: lambda: _("There is no such page, or it is not yours to see."),
    405: lambda: _("This action is not available here."),
    413: lambda: _("The request is too large, or has too many fields."),
    429: lambda: _("Too many requests from your address. Please wait a while and try again."),
    500: lambda: _("Something went wrong on our side; nothing was changed. Please try again."),
}


def _page(status: int, message: str):
    return render_template("errors/error.html", status=status, message=message), status


def register(app: Flask) -> None:
    """Install the handlers."""

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        db.session.rollback()
        if wants_json():
            fields = error.errors if isinstance(error, InvalidFormData) else None
            return error_response(error.status, domain_code(error), message_for(error), fields)
        return _page(error.status, message_for(error))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        app.logger.warning("CSRF refused: %s", error.description)
        message = _(
            "The form has expired or did not come from this site. Please "
            "reload the page and try again."
        )
        if wants_json():
            return error_response(400, "csrf_failed", message)
        return _page(400, message)

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError):
        # A Host outside TRUSTED_HOSTS: no URL can be built for it, so no page with links.
        message = _("This site is not served under this host name.")
        if wants_json():
            return error_response(400, "untrusted_host", message)
        return Response(message, 400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        message = HTTP_MESSAGES.get(status, HTTP_MESSAGES[400])()
        if wants_json():
            response = error_response(status, HTTP_CODES.get(status, "error"), message)
            for name, value in error.get_headers():
                if name in ("Allow", "Retry-After", "WWW-Authenticate"):
                    response.headers[name] = value
            return response
        return _page(status, message)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        if wants_json():
            return error_response(500, "internal_error", HTTP_MESSAGES[500]())
        return _page(500, HTTP_MESSAGES[500]())
