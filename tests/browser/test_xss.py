"""Script in every free-text field (the application, review requests and reasons, the applicant's
answer, the public objection, the secretariat's reply, vote comments, payment details, the
certificate remarks, a user's display name) is shown as text on every page that shows it, the
public board included: Chromium opens no dialog, finds no injected element, and reports no
Content-Security-Policy violation (so the pages themselves need no inline script either).

The data is put in through the services (fast); one objection goes through the real browser
form. Chromium only looks."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from tests import staged
from tests.conftest import VALID_APPLICATION, fresh_credit_code
from tests.procedure import PAYMENT
from webapp.extensions import db
from webapp.models import Case, Certificate, User
from webapp.services import cases, notice, tasks, timers, users

pytestmark = pytest.mark.browser

PASSWORD = users.DEMO_PASSWORD
VECTORS = (
    '<script>alert("xss-1")</script>',
    '<img src=x onerror=alert("xss-2")>',
    '"><svg onload=alert("xss-3")>',
    "'><img src=x onerror=alert('xss-4')>",
    "javascript:alert('xss-5')",
    '</textarea><script>alert("xss-6")</script>',
    # Not script, but text must never be evaluated as a template either. The marker is glued to
    # the product: "1337" alone turns up in random task ids now and then.
    "xss-tpl{{ 7 * 191 }}",
)
EVALUATED = "xss-tpl1337"


def payload(limit: int) -> str:
    """As many attack strings as fit in a field of that length."""
    text = ""
    for vector in VECTORS:
        if len(text) + len(vector) <= limit:
            text += vector
    assert text, limit
    return text


APPLICATION = {
    **{k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)},
    "name": payload(200),
    "contact_person": payload(50),
    "address": payload(300),
    "reasons": payload(2000),
    "contribution": payload(2000),
    "recommender": payload(200),
}
UPLOADS = {k: v for k, v in VALID_APPLICATION.items() if isinstance(v, tuple)}
LONG = payload(1000)

# Run in the page after it loads: what an escaping mistake would have put into the document.
FIND_INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on')) found.push(`${el.tagName} ${attr.name}`);
      if (['href', 'src', 'action', 'formaction'].includes(attr.name)
          && /^\\s*javascript:/i.test(attr.value)) found.push(`${el.tagName} ${attr.name}=js`);
    }
  }
  for (const img of document.querySelectorAll('img[src="x"]')) found.push('img src=x');
  for (const s of document.scripts) {
    if (!s.src && s.type !== 'application/json') found.push('inline script');
  }
  return found;
}"""


def _submit(applicant: User) -> int:
    case = cases.start(applicant)
    guid = staged.open_tasks(case.id)[0].task_guid
    files = {k: FileStorage(io.BytesIO(data), name) for k, (data, name) in UPLOADS.items()}
    # Each application under a credit code of its own (one code applies once at a time).
    data = MultiDict({**APPLICATION, "credit_code": fresh_credit_code()})
    tasks.complete(applicant, guid, data, files)
    return case.id


def _review(case_id: int, decision: str, **extra) -> None:
    data = {"review_decision": decision, "review_notes": payload(2000), **extra}
    staged.complete("secretary", case_id, "preliminary_review", data)


def _vote(case_id: int, members=staged.COUNCIL) -> None:
    for member in members:
        data = {"vote": "approve", "vote_comment": payload(2000)}
        staged.complete(member, case_id, "council_vote", data)


def _declare(case_id: int) -> None:
    data = {**PAYMENT, "payment_reference": payload(100)}
    staged.complete("xss", case_id, "declare_payment", data)


def _before_notice_ends(app) -> dict[str, int]:
    """A: more material asked and given, then passed. B: rejected. E and G: passed, E with
    an objection filed by the service (A's comes through the browser)."""
    with app.test_request_context():
        user = User(username="xss", display_name=payload(120), roles="applicant")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        ids = {name: _submit(user) for name in "ABEG"}
        _review(ids["A"], "more_material", review_request=payload(2000))
        staged.complete("xss", ids["A"], "provide_material", {"material_response": LONG})
        _review(ids["B"], "reject", review_reasons=payload(2000))
        for name in "AEG":
            _review(ids[name], "pass")
        notice.file_objection(ids["E"], payload(4000), payload(200), source="192.0.2.1")
    return ids


def _after_notice_ends(app, ids: dict[str, int]) -> None:
    """A goes on to its certificate (payment sent back once); E waits for `council`'s vote
    and G for finance, each with script in what the earlier steps wrote."""
    with app.test_request_context():
        closes = max(db.session.get(Case, ids[n]).notice_closes_at for n in "AEG")
    with time_machine.travel(closes + timedelta(minutes=1), tick=True):
        with app.test_request_context():
            timers.fire_due()
            for name in "AE":
                data = {"objection_decision": "dismissed", "objection_reply": LONG}
                staged.complete("secretary", ids[name], "answer_objection", data)
            _vote(ids["A"])
            _vote(ids["G"])
            _vote(ids["E"], ("council2", "council3"))
            _declare(ids["A"])
            _declare(ids["G"])
            returned = {"payment_check": "not_received", "payment_check_reason": payload(1000)}
            staged.complete("finance", ids["A"], "confirm_payment", returned)
            _declare(ids["A"])
            staged.complete("finance", ids["A"], "confirm_payment", {"payment_check": "received"})
            issued = {"certificate_confirmed": "on", "issue_remarks": payload(1000)}
            staged.complete("secretary", ids["A"], "issue_certificate", issued)


def _now_waiting(app, ids: dict[str, int]) -> dict[str, str]:
    """C on notice (on the board now), D waiting for more material, R for its review; and
    the open tasks and the certificate that pages are opened for."""
    with app.test_request_context():
        user = users.by_username("xss")
        for name in "CDR":
            ids[name] = _submit(user)
        _review(ids["C"], "pass")
        _review(ids["D"], "more_material", review_request=payload(2000))

        def guid(name: str, bpmn_id: str) -> str:
            return staged.open_tasks(ids[name], bpmn_id)[0].task_guid

        certificate = db.session.scalars(
            select(Certificate).where(Certificate.case_id == ids["A"])
        ).one()
        return {
            "material": guid("D", "provide_material"),
            "review": guid("R", "preliminary_review"),
            "vote": guid("E", "council_vote"),
            "payment": guid("G", "confirm_payment"),
            "certificate": certificate.verify_token,
        }


class Watcher:
    """One browser session that notes every dialog and every CSP violation."""

    def __init__(self, browser, base: str):
        self.base = base
        self.context = browser.new_context(locale="zh-CN")
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.violations: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{self.page.url}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"{self.page.url}: {message.text[:200]}")

    def login(self, username: str) -> Watcher:
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("#login-submit")
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, username
        return self

    def check(self, path: str) -> None:
        """Open the page; the attack strings must be on it, as text and nothing else."""
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, path
        self.page.wait_for_load_state("networkidle")
        assert "xss-" in self.page.content(), f"{path} shows none of the payloads"
        assert EVALUATED not in self.page.inner_text("body"), f"{path} evaluated a template"
        assert self.page.evaluate(FIND_INJECTED) == [], path
        assert self.dialogs == [], self.dialogs
        assert self.violations == [], self.violations

    def close(self) -> None:
        self.context.close()


def test_script_in_every_free_text_field_never_runs_on_any_page(browser, live_server):
    base, app = live_server
    ids = _before_notice_ends(app)

    # The public objection, typed into the board's form like anyone would.
    visitor = Watcher(browser, base)
    visitor.check("/board")
    visitor.check(f"/board/{ids['A']}/objection")
    visitor.page.fill("textarea[name=reason]", payload(4000))
    visitor.page.fill("input[name=contact]", payload(200))
    visitor.page.click("form button[type=submit]")
    visitor.page.wait_for_load_state()
    assert visitor.page.url.endswith("/board")
    with app.app_context():
        assert len(notice.objections_of(db.session.get(Case, ids["A"]))) == 1

    _after_notice_ends(app, ids)
    waiting = _now_waiting(app, ids)

    visitor.check("/board")  # C on notice, A among the new members
    visitor.check(f"/board/{ids['C']}/objection")
    visitor.check(f"/verify/{waiting['certificate']}")
    visitor.close()

    pages = {
        "xss": [
            "/cases",
            *(f"/cases/{ids[n]}" for n in "ABDG"),
            f"/tasks/{waiting['material']}",
            "/messages",
        ],
        "secretary": [
            "/inbox",
            f"/tasks/{waiting['review']}",
            *(f"/cases/{ids[n]}" for n in "ABE"),
            f"/cases/{ids['A']}/audit",
            "/members",
            "/messages",
        ],
        "council": ["/inbox", f"/tasks/{waiting['vote']}"],
        "finance": ["/inbox", f"/tasks/{waiting['payment']}"],
    }
    for username, paths in pages.items():
        watcher = Watcher(browser, base).login(username)
        for path in paths:
            watcher.check(path)
        watcher.close()
