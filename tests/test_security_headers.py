"""Every response carries the security headers, and no page needs what the Content-Security-
Policy forbids: no inline script, no on*= handler, no javascript: URL. So text someone typed
cannot run in another person's browser even where escaping were forgotten."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import ROOT, Actor, open_task

TEMPLATES = ROOT / "webapp" / "templates"


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives}


def _assert_page_headers(response, url: str) -> None:
    policy = _policy(response)
    assert policy.get("script-src") == "'self'", url
    assert policy.get("default-src") == "'self'", url
    assert policy.get("frame-ancestors") == "'none'", url
    assert policy.get("object-src") == "'none'", url
    assert policy.get("base-uri") == "'self'", url
    assert response.headers["X-Content-Type-Options"] == "nosniff", url
    assert response.headers["X-Frame-Options"] == "DENY", url
    # A page may be stricter still (the verification page sends no referrer at all).
    referrer = ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert response.headers["Referrer-Policy"] in referrer, url


class _ScriptFinder(HTMLParser):
    """What in a page would need inline script to be allowed."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if value and name in ("href", "src", "action", "formaction"):
                if re.match(r"\s*javascript:", value, re.IGNORECASE):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            data_block = attributes.get("type") == "application/json"
            self._inline_script = not attributes.get("src") and not data_block

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


def _inline_code(html: str) -> list[str]:
    finder = _ScriptFinder()
    finder.feed(html)
    return finder.problems


def _pages(app, actors, submitted) -> list[tuple[Actor, str, int]]:
    anonymous = Actor(app, None)
    review = open_task(app, submitted.id).task_guid
    secretary, owner = actors("secretary"), actors("owner")
    applicant = actors("applicant")
    return [
        (anonymous, "/board", 200),
        (anonymous, "/login", 200),
        (anonymous, "/register", 200),
        (anonymous, "/verify/no-such-certificate", 404),
        (anonymous, "/no-such-page", 404),
        (applicant, "/cases", 200),
        (applicant, f"/cases/{submitted.id}", 200),
        (applicant, "/messages", 200),
        (secretary, "/inbox", 200),
        (secretary, f"/tasks/{review}", 200),
        (secretary, f"/cases/{submitted.id}", 200),
        (secretary, f"/cases/{submitted.id}/audit", 200),
        (secretary, "/members", 200),
        (actors("council"), "/inbox", 200),
        (applicant, f"/tasks/{review}", 403),
        (owner, "/models", 200),
        (owner, "/models/admission/edit", 200),
        (owner, "/admin/calendar", 200),
        (owner, "/models/admission/migrate", 200),
        (applicant, "/settings/tokens", 200),
    ]


def test_every_page_has_the_headers_and_no_inline_script(app, actors, submitted):
    for actor, url, status in _pages(app, actors, submitted):
        response = actor.get(url)
        assert response.status_code == status, url
        _assert_page_headers(response, url)
        assert _inline_code(response.get_data(as_text=True)) == [], url


def test_templates_have_no_inline_handlers_scripts_or_javascript_urls():
    offending = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(TEMPLATES)}:{number}"
            if re.search(r"\son[a-z]+\s*=", line, re.IGNORECASE):
                offending.append(f"{where} handler")
            if re.search(r"javascript:", line, re.IGNORECASE):
                offending.append(f"{where} javascript: URL")
            for tag in re.findall(r"<script\b[^>]*>", line, re.IGNORECASE):
                if "src=" not in tag and 'type="application/json"' not in tag:
                    offending.append(f"{where} inline script")
    assert offending == []


def test_the_finder_sees_what_the_policy_would_block():
    page = (
        '<script>alert(1)</script><img src=x onerror="alert(1)"><a href=" JavaScript:go()">x</a>'
        '<script type="application/json">{"ok": 1}</script><script src="/static/x.js"></script>'
    )
    assert len(_inline_code(page)) == 3


def test_static_files_and_redirects_carry_the_headers_too(app):
    visitor = Actor(app, None)
    static = visitor.get("/static/app.css")
    assert static.status_code == 200
    assert static.headers["X-Content-Type-Options"] == "nosniff"
    assert _policy(static).get("frame-ancestors") == "'none'"
    redirect = visitor.get("/inbox")
    assert redirect.status_code == 302
    _assert_page_headers(redirect, "/inbox")


def test_json_api_responses_carry_a_policy_that_allows_nothing(app):
    visitor = Actor(app, None)
    for url, status in (("/api/v1/me", 401), ("/api/v1/no-such-thing", 404)):
        response = visitor.get(url)
        assert response.status_code == status, url
        assert response.is_json, url
        policy = _policy(response)
        assert policy.get("default-src") == "'none'" and policy.get("frame-ancestors") == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [("https://localhost", True), ("http://localhost", False)],
)
def test_strict_transport_security_only_over_https(app, base_url, expected):
    response = app.test_client().get("/board", base_url=base_url)
    assert response.status_code == 200
    assert ("Strict-Transport-Security" in response.headers) is expected
