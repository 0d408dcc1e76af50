"""Who is calling the API: a personal token (`Authorization: Bearer …`) or the browser's login
session. A request that names a credential is judged by that credential alone, so a bad token
never falls back to a cookie the same client happens to carry."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api import bp
from webapp.api.errors import error_response
from webapp.extensions import csrf, login_manager
from webapp.services import api_tokens

# Token requests carry their own proof; session writes are checked below instead.
csrf.exempt(bp)


@bp.before_request
def authenticate() -> None:
    """Settle the caller before any API view runs; check CSRF on session writes."""
    header = request.headers.get("Authorization")
    g.api_token = None
    g.api_auth_failed = False
    if header is not None:
        token = _token_from(header)
        g.api_token = token
        g.api_auth_failed = token is None
        # Flask-Login reads the user from `g`; setting it here means the session is never
        # consulted for this request, and `current_user` is the token's owner.
        login_manager._update_request_context_with_user(token.user if token else None)
        if token is not None:
            api_tokens.mark_used(token)
        return
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        # The cookie rides along on any cross-site request, so a session write must prove it
        # came from one of our pages. Reads and anonymous requests have nothing to protect.
        csrf.protect()


def _token_from(header: str):
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return api_tokens.token_for(value.strip())


def by_token() -> bool:
    """Whether this request was authenticated with a personal API token."""
    return g.get("api_token") is not None


def unauthorized():
    """The 401 answer: never a redirect to the login page."""
    if g.get("api_auth_failed"):
        message = _("The API token is not valid or has been revoked.")
        response = error_response(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    response = error_response(401, "unauthorized", _("Log in or send a personal API token."))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def forbidden():
    """The 403 answer for a caller without the role a resource needs."""
    return error_response(403, "forbidden", _("You are not allowed to do this."))


def api_login_required(view: Callable) -> Callable:
    """Answer 401 unless the caller is a logged-in user or holds a valid token."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        return view(*args, **kwargs)

    return wrapped


def require_committee(view: Callable) -> Callable:
    """Answer 401 for anonymous callers and 403 unless the caller sits on a group now."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        if not current_user.is_committee:
            return forbidden()
        return view(*args, **kwargs)

    return wrapped


def require_role(*roles: str) -> Callable[[Callable], Callable]:
    """Answer 401 for anonymous callers and 403 unless the caller holds one of the roles."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return unauthorized()
            if not current_user.role_set & set(roles):
                return forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorator
