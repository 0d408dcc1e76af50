"""The committee's desk in Chromium, on a desk and on a phone: all cases searched and filtered,
a bulk claim in the inbox, and the dashboard's charts drawn with the numbers of their tables
(the dues collection rate among them).
Screenshots at 1366 and 390 px wide go to test-artifacts/."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from tests import staged
from tests.browser.test_incidents_in_browser import login
from tests.test_annual_dues import OPENS, declaration
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import Case, DuesEntry, Member
from webapp.services import scheduled_starts, tasks, users

pytestmark = pytest.mark.browser


def _dues_year(app) -> None:
    """The 2027 dues opened for two members through the scheduled start, one declared and
    confirmed: a collection rate of 50 %."""
    for username in ("applicant", "applicant2"):
        make_member(app, username, "unit")
    with time_machine.travel(OPENS + timedelta(minutes=1), tick=False):
        with app.test_request_context():
            assert scheduled_starts.start_due() == 2
            user = users.by_username("applicant")
            member = db.session.scalars(select(Member).where(Member.user_id == user.id)).one()
            case_id = db.session.scalars(
                select(DuesEntry.case_id).where(DuesEntry.member_id == member.id)
            ).one()
            form = declaration("5000")
            receipt = form.pop("payment_receipt")
            task = staged.open_tasks(case_id, "declare_dues")[0]
            tasks.complete(
                user,
                task.task_guid,
                MultiDict(form),
                {"payment_receipt": FileStorage(io.BytesIO(receipt[0]), receipt[1])},
            )
            staged.complete("finance", case_id, "confirm_dues", {"payment_check": "received"})


def test_all_cases_bulk_claim_and_dashboard(live_server, browser, artifacts):
    base, app = live_server
    with app.test_request_context():
        ids = staged.submitted(3)
        for n, case_id in enumerate(ids):
            db.session.get(Case, case_id).name = ["星河智能", "申联物流", "西湖软件"][n]
        db.session.commit()

    for width in (1366, 390):
        page = login(browser, base, "secretary", width)
        page.goto(f"{base}/desk/cases")
        expect(page.locator("#desk-cases tbody tr[data-case]")).to_have_count(3)
        page.fill("#q", "申联")
        page.click("#desk-apply")
        expect(page.locator("#desk-cases tbody tr[data-case]")).to_have_count(1)
        expect(page.locator("#desk-cases")).to_contain_text("申联物流")
        page.screenshot(path=str(artifacts / f"desk-cases-{width}.png"), full_page=True)

        page.goto(f"{base}/desk/dashboard")
        funnel = page.locator("#figure-funnel")
        expect(funnel.locator(".dash-chart")).to_have_attribute("data-rendered", "1")
        expect(funnel.locator(".dash-table")).to_contain_text("3")
        expect(funnel.locator(".dash-chart svg")).to_contain_text("初审: 3")
        page.screenshot(path=str(artifacts / f"desk-dashboard-{width}.png"), full_page=True)
        page.context.close()

    # A year of dues: the collection rate's chart and table say the same.
    _dues_year(app)
    for width in (1366, 390):
        page = login(browser, base, "secretary", width)
        page.goto(f"{base}/desk/dashboard")
        dues = page.locator("#figure-dues_collection")
        expect(dues.locator(".dash-chart")).to_have_attribute("data-rendered", "1")
        expect(dues.locator(".dash-table tbody tr")).to_have_count(1)
        cells = dues.locator(".dash-table tbody td")
        expect(cells.nth(0)).to_have_text("2027")
        expect(cells.nth(1)).to_have_text("50.0")
        expect(cells.nth(2)).to_have_text("2")
        expect(cells.nth(3)).to_have_text("1")
        # The chart draws the table's rate against its year.
        expect(dues.locator(".dash-chart svg")).to_contain_text("2027")
        expect(dues.locator(".dash-chart svg")).to_contain_text("50")
        dues.scroll_into_view_if_needed()
        dues.screenshot(path=str(artifacts / f"desk-dashboard-dues-{width}.png"))
        page.context.close()

    page = login(browser, base, "secretary", 1366)
    page.goto(f"{base}/inbox")
    boxes = page.locator("input[name=task]")
    expect(boxes).to_have_count(3)
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#bulk-claim")
    expect(page.locator(".alert-success")).to_contain_text("已处理 2 项任务")
    expect(page.locator("[data-claimed-by-name]")).to_have_count(2)
    page.screenshot(path=str(artifacts / "desk-inbox-bulk-1366.png"), full_page=True)
    page.context.close()
