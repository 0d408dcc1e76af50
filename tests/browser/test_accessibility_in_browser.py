"""Accessibility in Chromium: axe-core's WCAG 2 A/AA rules on the pages each kind of user works
in, in Chinese and in English, and the secretary's daily round done with the keyboard alone
(inbox, claim, the task's form, submit). The conftest's watcher checks every other page the
browser tests visit; these tests name the pages so that none is missed for lack of a test."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from tests import staged
from tests.browser import axe
from webapp.extensions import db
from webapp.models import Case, Member

pytestmark = pytest.mark.browser

START = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday
LOCALES = {"zh": ("zh-CN", "zh_CN"), "en": ("en-US", "en")}


def login(browser, base, username, locale, width=1366):
    """A session in that language; a user's saved language is replaced after its login."""
    browser_locale, code = LOCALES[locale]
    context = browser.new_context(locale=browser_locale, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    if username:
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "demo1234")
        page.click("#login-submit")
        page.wait_for_load_state()
    page.goto(f"{base}/lang/{code}?next=/board")
    return page


def staged_cases(app):
    """One application waiting for the secretary's review, one of a member with a certificate."""
    with time_machine.travel(START, tick=False) as traveller, app.test_request_context():
        waiting = staged.submitted(1)[0]
        admitted = staged.awaiting_certificate(1, traveller)[0]
        staged.complete("secretary", admitted, "issue_certificate", {"certificate_confirmed": "on"})
        review = staged.open_tasks(waiting, "preliminary_review")[0].task_guid
        member = db.session.query(Member).filter_by(case_id=admitted).one().id
        db.session.commit()
    return waiting, review, member


def pages_of(waiting, review, member):
    """Who sees which pages: the issue's twelve and the desk, the dashboard, a task, a member."""
    return {
        None: ["/", "/board", "/login", "/register"],
        "applicant": ["/cases", "/messages", f"/cases/{waiting}"],
        "secretary": [
            f"/cases/{waiting}",
            f"/cases/{waiting}/audit",
            "/inbox",
            "/members",
            f"/members/{member}",
            "/desk/cases",
            "/desk/dashboard",
            f"/tasks/{review}",
        ],
        "owner": ["/models", "/admin/calendar"],
    }


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_page_passes_axe_core(live_server, browser, artifacts, axe_every_page, locale):
    """Checked through the conftest's watcher, so that it does not open these pages again."""
    base, app = live_server
    waiting, review, member = staged_cases(app)
    for username, paths in pages_of(waiting, review, member).items():
        page = login(browser, base, username, locale)
        for path in paths:
            response = page.goto(base + path)
            assert response.status == 200, f"{username} {path}: {response.status}"
            page.wait_for_load_state("load")
            lang = "zh-CN" if locale == "zh" else "en"
            expect(page.locator("html")).to_have_attribute("lang", lang)
            axe_every_page.inspect(page)
        if username == "secretary":
            shoot_navbar(page, artifacts, locale)
        page.context.close()
    failures = list(dict.fromkeys(axe_every_page.reports))
    axe_every_page.reports.clear()  # said here, not a second time by the fixture
    assert not failures, "axe-core found WCAG 2 A/AA violations\n" + "\n".join(failures)


def shoot_navbar(page, artifacts, locale):
    """The navbar's colours at a laptop's width and, menu open, at a phone's."""
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/inbox")
    page.locator("nav.navbar").screenshot(path=str(artifacts / f"a11y-navbar-{locale}-1366.png"))
    # One line at a laptop's width, in either language: the name and "Log out" broke before.
    for element in ("#who", "nav.navbar button[type=submit]"):
        lines = page.locator(element).evaluate(
            """e => { const r = document.createRange(); r.selectNodeContents(e);
                 return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"""
        )
        assert lines == 1, f"{element} takes {lines} lines"
    page.set_viewport_size({"width": 390, "height": 844})
    page.click("#nav-toggle")
    expect(page.locator("#main-nav.show")).to_be_visible()  # the collapse's animation ended
    page.locator("nav.navbar").screenshot(path=str(artifacts / f"a11y-navbar-{locale}-390.png"))
    assert not axe.violations(page), "the open menu"
    page.set_viewport_size({"width": 1366, "height": 900})


def tab_to(page, selector: str, limit: int = 120) -> None:
    """Tab (only Tab) until the element the selector names has the keyboard's focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def test_the_secretarys_round_with_the_keyboard_alone(live_server, browser, artifacts):
    base, app = live_server
    waiting, review, _ = staged_cases(app)
    page = login(browser, base, "secretary", "zh")
    page.goto(f"{base}/board")

    # The skip link comes first and takes the focus to the page's content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.keyboard.press("Shift+Tab")  # back into the navbar, then along it to the inbox
    tab_to(page, "#main-nav a[href$='/inbox']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox")

    tab_to(page, f"#pick-{review}")
    page.keyboard.press("Space")
    expect(page.locator(f"#pick-{review}")).to_be_checked()
    tab_to(page, "#bulk-claim")
    page.keyboard.press("Enter")
    expect(page.locator(f"tr[data-case='{waiting}'] [data-claimed-by-name]")).to_be_visible()

    tab_to(page, f"a[href$='/tasks/{review}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/tasks/{review}")

    tab_to(page, "[name=review_decision]")
    if page.evaluate("document.activeElement.tagName") == "SELECT":
        page.keyboard.press("ArrowDown")
    else:
        page.keyboard.press("Space")  # the first radio: 通过，进入公示
    chosen = page.locator("[name=review_decision]:checked, [name=review_decision] option:checked")
    expect(chosen.first).to_have_attribute("value", "pass")
    tab_to(page, "[name=review_notes]")
    page.keyboard.type("材料齐全，键盘办理。")
    page.screenshot(path=str(artifacts / "keyboard-task-form-1366.png"), full_page=True)
    tab_to(page, "#submit-task")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith(f"/tasks/{review}"))

    with app.app_context():
        case = db.session.get(Case, waiting)
        assert not staged.open_tasks(waiting, "preliminary_review"), case.stage
