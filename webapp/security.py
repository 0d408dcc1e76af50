"""Security headers on every response, and a session cookie that is marked Secure whenever the
request came over HTTPS.

The Content-Security-Policy allows scripts only from this site's own files, so text a visitor
typed can never run even if a template forgot to escape it: no inline scripts, no on*=
handlers, no javascript: URLs. Styles may be inline (bpmn-js sets them on its canvas) and
images may be data: URLs (Bootstrap's form controls, bpmn-js's icons); neither runs code."""

from __future__ import annotations

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from webapp.api.errors import wants_json

PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# JSON is data, never a page: nothing in it may load or run, should a browser render it.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the Secure flag also on every HTTPS request (directly
    or through a trusted proxy), even when SESSION_COOKIE_SECURE is not set."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def _add_headers(response: Response) -> Response:
    # setdefault: a view may have set a stricter policy (document downloads are sandboxed).
    policy = API_POLICY if wants_json() else PAGE_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register(app: Flask) -> None:
    """Install the security headers and the session cookie's Secure rule."""
    app.session_interface = SessionInterface()
    app.after_request(_add_headers)
